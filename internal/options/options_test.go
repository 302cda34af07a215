package options_test

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply/internal/options"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testOptions has one of each thing the package handles: a nested struct, a list
// of structs, a map, a duration, an enum, limits, a pattern, required fields and a
// Validate method that returns joined field errors.
type testOptions struct {
	Name    string            `json:"name,omitempty" jsonschema:"required,pattern=^[a-z][a-z0-9-]*$"`
	TTL     time.Duration     `json:"ttl,omitempty" jsonschema:"minimum=0"`
	Mode    string            `json:"mode,omitempty" jsonschema:"enum=lru,enum=lfu"`
	Limits  limits            `json:"limits,omitzero"`
	Servers []server          `json:"servers,omitempty"`
	Tags    map[string]string `json:"tags,omitempty"`
	Debug   bool              `json:"debug,omitempty"`
}

type limits struct {
	Rate  float64 `json:"rate,omitempty" jsonschema:"minimum=0"`
	Burst int     `json:"burst,omitempty" jsonschema:"minimum=1,maximum=1000"`
}

type server struct {
	URL     string        `json:"url,omitempty" jsonschema:"required,pattern=^https?://"`
	Weight  int           `json:"weight,omitempty" jsonschema:"minimum=0"`
	Timeout time.Duration `json:"timeout,omitempty" jsonschema:"minimum=1000000"` // at least 1ms
}

// fieldError is how a Validate method names the field at fault.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.field + ": " + e.msg }
func (e *fieldError) Field() string { return e.field }

// Validate checks what tags cannot express.
func (o *testOptions) Validate() error {
	var errs []error
	if o.Name == "reserved" {
		errs = append(errs, errors.New(`the name "reserved" is taken`))
	}
	if o.Limits.Burst > 0 && o.Limits.Rate == 0 {
		errs = append(errs, &fieldError{"limits.rate", "must be set when burst is set"})
	}
	seen := map[string]int{}
	for i, s := range o.Servers {
		if j, dup := seen[s.URL]; dup {
			errs = append(errs, &fieldError{fmt.Sprintf("servers[%d].url", i), fmt.Sprintf("must differ from servers[%d].url", j)})
		}
		seen[s.URL] = i
	}
	return errors.Join(errs...)
}

const validYAML = `name: cache
ttl: 1.5s
mode: lru
limits:
  rate: 2.5
  burst: 10
servers:
  - url: https://a.example
    weight: 2
    timeout: 250ms
  - url: http://b.example
tags:
  env: prod
debug: true
`

const validJSON = `{
  "name": "cache",
  "ttl": "1.5s",
  "mode": "lru",
  "limits": {"rate": 2.5, "burst": 10},
  "servers": [
    {"url": "https://a.example", "weight": 2, "timeout": "250ms"},
    {"url": "http://b.example"}
  ],
  "tags": {"env": "prod"},
  "debug": true
}
`

// hostYAML is a host's configuration file with several plugins' options in it.
const hostYAML = `# ply.yaml
defaults:
  limits: &limits
    rate: 1
    burst: 20
plugins:
  cache:
    version: ^1.2
    options:
      name: cache
      ttl: -5s
      limits: *limits
      servers:
        - url: ftp://files
  auth:
    options:
      <<: &common
        name: auth
        debug: true
      tll: 1s
  logs:
  queue:
    options: {name: queue, limits: *limits, servers: [{url: "http://q"}]}
`

var validOptions = testOptions{
	Name: "cache",
	TTL:  1500 * time.Millisecond,
	Mode: "lru",
	Limits: limits{
		Rate:  2.5,
		Burst: 10,
	},
	Servers: []server{
		{URL: "https://a.example", Weight: 2, Timeout: 250 * time.Millisecond},
		{URL: "http://b.example"},
	},
	Tags:  map[string]string{"env": "prod"},
	Debug: true,
}

func yamlSource(data string) options.Source {
	return options.Source{File: "ply.yaml", Data: []byte(data)}
}

func hostSource(path string) options.Source {
	return options.Source{File: "ply.yaml", Data: []byte(hostYAML), Path: path}
}

func TestLoad(t *testing.T) {
	for _, tt := range []struct {
		name string
		src  options.Source
		want []options.Problem
	}{
		{name: "valid YAML", src: yamlSource(validYAML)},
		{name: "valid JSON", src: options.Source{File: "ply.json", Data: []byte(validJSON)}},
		{
			name: "unknown key at root",
			src:  yamlSource("name: cache\ntll: 5s\n"),
			want: []options.Problem{
				{Path: "tll", Line: 2, Column: 1, Message: `unknown field (did you mean "ttl"?)`},
			},
		},
		{
			name: "unknown nested keys",
			src:  yamlSource("name: cache\nlimits:\n  brust: 3\nservers:\n  - url: http://a\n  - URL: http://b\n"),
			want: []options.Problem{
				{Path: "limits.brust", Line: 3, Column: 3, Message: `unknown field (did you mean "burst"?)`},
				{Path: "servers[1].URL", Line: 6, Column: 5, Message: `unknown field (did you mean "url"?)`},
				{Path: "servers[1].url", Line: 6, Column: 5, Message: "is required"},
			},
		},
		{
			name: "every unknown key",
			src:  yamlSource("tll: 5s\nname: cache\ncolour: red\nlimits: {rate: 1, brust: 2, size: 3}\n"),
			want: []options.Problem{
				{Path: "tll", Line: 1, Column: 1, Message: `unknown field (did you mean "ttl"?)`},
				{Path: "colour", Line: 3, Column: 1, Message: `unknown field (known fields: "name", "ttl", "mode", "limits", "servers", "tags", "debug")`},
				{Path: "limits.brust", Line: 4, Column: 19, Message: `unknown field (did you mean "burst"?)`},
				{Path: "limits.size", Line: 4, Column: 29, Message: `unknown field (known fields: "rate", "burst")`},
			},
		},
		{
			name: "type mismatches",
			src:  yamlSource("name: 5\nttl: abc\nlimits: {burst: many, rate: '2'}\ndebug: yes\nservers: https://x\ntags: {a: 1.10, b: [1]}\n"),
			want: []options.Problem{
				{Path: "name", Line: 1, Column: 7, Message: `must be a string, got 5 (put it in quotes)`},
				{Path: "ttl", Line: 2, Column: 6, Message: `must be a duration such as "1.5s" or "2m" (a number and a unit: ns, us, ms, s, m or h)`},
				{Path: "limits.burst", Line: 3, Column: 17, Message: `must be an integer, got a string`},
				{Path: "limits.rate", Line: 3, Column: 29, Message: `must be a number, got a string`},
				{Path: "debug", Line: 4, Column: 8, Message: `must be true or false, got a string`},
				{Path: "servers", Line: 5, Column: 10, Message: `must be a list, got a string`},
				{Path: "tags.a", Line: 6, Column: 11, Message: `must be a string, got 1.10 (put it in quotes)`},
				{Path: "tags.b", Line: 6, Column: 20, Message: `must be a string, got a list`},
			},
		},
		{
			name: "numbers out of range",
			src:  yamlSource("name: x\nlimits: {burst: 99999999999999999999, rate: .inf}\nservers: [{url: 'http://a', weight: 1.5, timeout: 5}]\n"),
			want: []options.Problem{
				{Path: "limits.burst", Line: 2, Column: 17, Message: `must be an integer from -9223372036854775808 to 9223372036854775807, got 99999999999999999999`},
				{Path: "limits.rate", Line: 2, Column: 45, Message: `must be a finite number, got .inf`},
				{Path: "servers[0].weight", Line: 3, Column: 37, Message: `must be an integer, got 1.5`},
				{Path: "servers[0].timeout", Line: 3, Column: 51, Message: `must be a duration such as "1.5s" or "2m" (a number and a unit: ns, us, ms, s, m or h), got 5`},
			},
		},
		{
			name: "duplicate keys",
			src:  options.Source{File: "ply.json", Data: []byte(`{"name": "a", "tags": {"x": "1", "x": "2"}, "name": "b"}`)},
			want: []options.Problem{
				{Path: "tags.x", Line: 1, Column: 34, Message: `duplicate key (first at line 1); remove one`},
				{Path: "name", Line: 1, Column: 45, Message: `duplicate key (first at line 1); remove one`},
			},
		},
		{
			name: "key on two lines",
			src:  yamlSource("name: x\ntags: {\"a\\nb\": c}\n"),
			want: []options.Problem{
				{Path: "tags", Line: 2, Column: 8, Message: `key "a\nb" must be on one line`},
			},
		},
		{
			name: "minimum",
			src:  yamlSource("name: cache\nttl: -5s\n"),
			want: []options.Problem{
				{Path: "ttl", Line: 2, Column: 6, Message: "must be >= 0s"},
			},
		},
		{
			name: "every schema problem",
			src:  yamlSource("name: Bad Name\nttl: -5s\nmode: mru\nlimits:\n  burst: 5000\nservers:\n  - url: ftp://x\n    timeout: 1us\n  - weight: -1\n"),
			want: []options.Problem{
				{Path: "name", Line: 1, Column: 7, Message: `must match pattern "^[a-z][a-z0-9-]*$"`},
				{Path: "ttl", Line: 2, Column: 6, Message: "must be >= 0s"},
				{Path: "mode", Line: 3, Column: 7, Message: `must be one of "lru", "lfu"`},
				{Path: "limits.rate", Line: 5, Column: 3, Message: "must be set when burst is set"}, // from Validate, alongside the schema
				{Path: "limits.burst", Line: 5, Column: 10, Message: "must be <= 1000"},
				{Path: "servers[0].url", Line: 7, Column: 10, Message: `must match pattern "^https?://"`},
				{Path: "servers[0].timeout", Line: 8, Column: 14, Message: "must be >= 1ms"},
				{Path: "servers[1].url", Line: 9, Column: 5, Message: "is required"},
				{Path: "servers[1].weight", Line: 9, Column: 13, Message: "must be >= 0"},
			},
		},
		{
			name: "required field missing",
			src:  yamlSource("ttl: 1s\n"),
			want: []options.Problem{
				{Path: "name", Line: 1, Column: 1, Message: "is required"},
			},
		},
		{
			name: "Validate method",
			src:  yamlSource("name: reserved\nlimits: {burst: 3}\nservers:\n- url: http://a\n- url: http://a\n"),
			want: []options.Problem{
				{Path: "", Line: 1, Column: 1, Message: `the name "reserved" is taken`},
				{Path: "limits.rate", Line: 2, Column: 9, Message: "must be set when burst is set"},
				{Path: "servers[1].url", Line: 5, Column: 8, Message: "must differ from servers[0].url"},
			},
		},
		{
			name: "JSON positions",
			src:  options.Source{File: "ply.json", Data: []byte("{\n  \"name\": \"x\",\n  \"ttl\": 5,\n  \"limits\": {\"burst\": 0, \"rte\": 1}\n}\n")},
			want: []options.Problem{
				{Path: "ttl", Line: 3, Column: 10, Message: `must be a duration such as "1.5s" or "2m" (a number and a unit: ns, us, ms, s, m or h), got 5`},
				{Path: "limits.rte", Line: 4, Column: 26, Message: `unknown field (did you mean "rate"?)`},
			},
		},
		{
			name: "nested node: schema problems",
			src:  hostSource("$.plugins.cache.options"),
			want: []options.Problem{
				{Path: "ttl", Line: 11, Column: 12, Message: "must be >= 0s"},
				{Path: "servers[0].url", Line: 14, Column: 16, Message: `must match pattern "^https?://"`},
			},
		},
		{
			name: "nested node: unknown key beside a merge key",
			src:  hostSource("$.plugins.auth.options"),
			want: []options.Problem{
				{Path: "tll", Line: 20, Column: 7, Message: `unknown field (did you mean "ttl"?)`},
			},
		},
		{
			name: "nested node: valid, with an alias to elsewhere in the file",
			src:  hostSource("$.plugins.queue.options"),
		},
		{
			name: "null node is validated as zero",
			src:  hostSource("$.plugins.logs.options"),
			want: []options.Problem{
				{Path: "name", Line: 21, Column: 3, Message: "is required"},
			},
		},
		{
			name: "missing node is validated as zero",
			src:  hostSource("$.plugins.none.options"),
			want: []options.Problem{
				{Path: "name", Line: 6, Column: 1, Message: "is required"},
			},
		},
		{
			name: "options path through a scalar",
			src:  hostSource("$.defaults.limits.rate.options"),
			want: []options.Problem{
				{Path: "", Line: 4, Column: 11, Message: "$.defaults.limits.rate must be a mapping that holds the options, got 1"},
			},
		},
		{
			name: "options are not a mapping",
			src:  yamlSource("- a\n"),
			want: []options.Problem{
				{Path: "", Line: 1, Column: 1, Message: "must be a mapping, got a list"},
			},
		},
		{
			name: "alias without anchor",
			src:  yamlSource("name: x\nlimits: *nope\n"),
			want: []options.Problem{
				{Path: "limits", Line: 2, Column: 9, Message: "alias *nope has no anchor; define &nope before it"},
			},
		},
		{
			name: "syntax error",
			src:  yamlSource("name: x\nttl: [1, 2\n"),
			want: []options.Problem{
				{Path: "", Line: 2, Column: 6, Message: "syntax error: sequence end token ']' not found"},
			},
		},
		{
			name: "syntax error elsewhere in the file",
			src:  options.Source{File: "ply.yaml", Data: []byte("plugins:\n  cache:\n    options: {name: x}\n  auth: {\n"), Path: "$.plugins.cache.options"},
			want: []options.Problem{
				{Path: "", Line: 4, Column: 9, Message: "syntax error: could not find flow mapping end token '}'"},
			},
		},
		{
			name: "invalid options path",
			src:  hostSource("plugins.cache"),
			want: []options.Problem{
				{Message: `invalid options path "plugins.cache": must start with "$"`},
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got testOptions
			problems := options.Load(tt.src, &got)
			if diff := cmp.Diff(tt.want, problems); diff != "" {
				t.Errorf("Load() problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadValue(t *testing.T) {
	queue := testOptions{Name: "queue", Limits: limits{Rate: 1, Burst: 20}, Servers: []server{{URL: "http://q"}}}
	for _, tt := range []struct {
		name string
		src  options.Source
		want testOptions
	}{
		{name: "YAML", src: yamlSource(validYAML), want: validOptions},
		{name: "JSON", src: options.Source{File: "ply.json", Data: []byte(validJSON)}, want: validOptions},
		{name: "alias to elsewhere in the file", src: hostSource("$.plugins.queue.options"), want: queue},
		{name: "quoted key in path", src: options.Source{Data: []byte("plugins:\n  queue.v2: {name: q}\n"), Path: "$.plugins.'queue.v2'"}, want: testOptions{Name: "q"}},
		{name: "index in path", src: options.Source{Data: []byte("- {name: a}\n- {name: b}\n"), Path: "$[1]"}, want: testOptions{Name: "b"}},
		{name: "merge key", src: options.Source{Data: []byte("base: &b {name: x, ttl: 1s}\nopts:\n  <<: *b\n  ttl: 2s\n"), Path: "$.opts"}, want: testOptions{Name: "x", TTL: 2 * time.Second}},
		{name: "block scalar", src: yamlSource("name: |-\n  x\nttl: >-\n  2m\n"), want: testOptions{Name: "x", TTL: 2 * time.Minute}},
		{name: "exponent in a number", src: yamlSource("name: x\nlimits: {rate: 1e3}\n"), want: testOptions{Name: "x", Limits: limits{Rate: 1000}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got testOptions
			if problems := options.Load(tt.src, &got); len(problems) > 0 {
				t.Fatalf("Load() problems: %v", problems)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Load() options (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeMissingNode(t *testing.T) {
	for _, path := range []string{"$.plugins.none.options", "$.plugins.logs.options", "$.plugins.none[3]"} {
		got := testOptions{Name: "from code", TTL: time.Hour}
		if problems := options.Decode(hostSource(path), &got); len(problems) > 0 {
			t.Fatalf("Decode(%s) problems: %v", path, problems)
		}
		if diff := cmp.Diff(testOptions{}, got); diff != "" {
			t.Errorf("Decode(%s) options (-want +got):\n%s", path, diff)
		}
	}
}

// Options from a file replace options from code; they are not merged.
func TestDecodeReplaces(t *testing.T) {
	got := testOptions{Name: "from code", Mode: "lfu", TTL: time.Hour, Servers: []server{{URL: "http://code"}}}
	if problems := options.Decode(yamlSource("name: from-file\nlimits: {burst: 2}\n"), &got); len(problems) > 0 {
		t.Fatalf("Decode() problems: %v", problems)
	}
	want := testOptions{Name: "from-file", Limits: limits{Burst: 2}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Decode() options (-want +got):\n%s", diff)
	}
}

func TestDecodeProblemsLeaveZero(t *testing.T) {
	got := testOptions{Name: "from code"}
	problems := options.Decode(yamlSource("name: x\ntll: 1s\n"), &got)
	if len(problems) != 1 {
		t.Fatalf("Decode() problems = %v, want 1", problems)
	}
	if diff := cmp.Diff(testOptions{}, got); diff != "" {
		t.Errorf("Decode() options (-want +got):\n%s", diff)
	}
}

func TestDecodeBadDestination(t *testing.T) {
	for _, dst := range []any{nil, testOptions{}, (*testOptions)(nil), new(int)} {
		problems := options.Decode(yamlSource("name: x\n"), dst)
		want := []options.Problem{{Message: fmt.Sprintf("options must be decoded into a non-nil pointer to a struct, got %T", dst)}}
		if diff := cmp.Diff(want, problems); diff != "" {
			t.Errorf("Decode(%T) problems (-want +got):\n%s", dst, diff)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts any
		want []options.Problem
	}{
		{name: "valid", opts: validOptions},
		{name: "valid pointer", opts: &validOptions},
		{name: "zero value", opts: testOptions{}, want: []options.Problem{{Path: "name", Message: "is required"}}},
		{name: "nil pointer is the zero value", opts: (*testOptions)(nil), want: []options.Problem{{Path: "name", Message: "is required"}}},
		{
			name: "minimum",
			opts: testOptions{Name: "cache", TTL: -time.Second},
			want: []options.Problem{{Path: "ttl", Message: "must be >= 0s"}},
		},
		{
			name: "every schema problem",
			opts: testOptions{
				Name:    "Cache",
				Mode:    "mru",
				Limits:  limits{Rate: -1, Burst: 1001},
				Servers: []server{{URL: "http://a"}, {Weight: -2}, {URL: "http://c", Timeout: time.Microsecond}},
			},
			want: []options.Problem{
				{Path: "limits.burst", Message: "must be <= 1000"},
				{Path: "limits.rate", Message: "must be >= 0"},
				{Path: "mode", Message: `must be one of "lru", "lfu"`},
				{Path: "name", Message: `must match pattern "^[a-z][a-z0-9-]*$"`},
				{Path: "servers[1].url", Message: "is required"},
				{Path: "servers[1].weight", Message: "must be >= 0"},
				{Path: "servers[2].timeout", Message: "must be >= 1ms"},
			},
		},
		{
			name: "Validate method runs alongside the schema",
			opts: testOptions{Name: "reserved", TTL: -1},
			want: []options.Problem{{Message: `the name "reserved" is taken`}, {Path: "ttl", Message: "must be >= 0s"}},
		},
		{
			name: "Validate method with joined field errors",
			opts: testOptions{Name: "reserved", Limits: limits{Burst: 1}, Servers: []server{{URL: "http://a"}, {URL: "http://b"}, {URL: "http://a"}}},
			want: []options.Problem{
				{Path: "", Message: `the name "reserved" is taken`},
				{Path: "limits.rate", Message: "must be set when burst is set"},
				{Path: "servers[2].url", Message: "must differ from servers[0].url"},
			},
		},
		{
			name: "not a struct",
			opts: 5,
			want: []options.Problem{{Message: "options must be a struct or a pointer to a struct, got int"}},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := options.Validate(tt.opts, nil)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate() problems (-want +got):\n%s", diff)
			}
		})
	}
}

// Options from code can be checked against the file they were read from.
func TestValidateSource(t *testing.T) {
	src := yamlSource("name: cache\nservers:\n  - url: http://a\n  - url: http://b\n")
	opts := testOptions{Name: "cache", Servers: []server{{URL: "http://a"}, {URL: "http://b", Weight: -1}}}
	got := options.Validate(opts, &src)
	want := []options.Problem{{Path: "servers[1].weight", Line: 4, Column: 5, Message: "must be >= 0"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Validate() problems (-want +got):\n%s", diff)
	}
}

type plainError struct{ error }

func (o *plainOptions) Validate() error { return o.err }

type plainOptions struct {
	Name string `json:"name,omitempty"`
	err  error
}

type wrappedFieldError struct{ field string }

func (e wrappedFieldError) Error() string { return "must be even" }
func (e wrappedFieldError) Field() string { return e.field }

func TestValidateMethodErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want []options.Problem
	}{
		{name: "nil", err: nil},
		{name: "plain", err: errors.New("name and mode conflict"), want: []options.Problem{{Message: "name and mode conflict"}}},
		{name: "field", err: wrappedFieldError{"a.b"}, want: []options.Problem{{Path: "a.b", Message: "must be even"}}},
		{
			name: "wrapped field",
			err:  fmt.Errorf("check: %w", wrappedFieldError{"n"}),
			want: []options.Problem{{Path: "n", Message: "check: must be even"}},
		},
		{
			name: "nested joins",
			err:  errors.Join(errors.New("one"), errors.Join(wrappedFieldError{"x"}, plainError{errors.New("two")})),
			want: []options.Problem{{Message: "one"}, {Message: "two"}, {Path: "x", Message: "must be even"}}, // sorted by path
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := options.Validate(&plainOptions{err: tt.err}, nil)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate() problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSchema(t *testing.T) {
	got, err := options.Schema(&testOptions{})
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "schema.golden.json")
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden) //nolint:gosec // a fixed golden file under testdata
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)+"\n"); diff != "" {
		t.Errorf("Schema() (-want +got):\n%s", diff)
	}
}

func TestSchemaErrors(t *testing.T) {
	type badPattern struct {
		S string `json:"s" jsonschema:"pattern=(["`
	}
	type unsupported struct {
		C chan int `json:"c"`
	}
	for _, v := range []any{nil, 5, []testOptions{}, badPattern{}, unsupported{}} {
		if _, err := options.Schema(v); err == nil {
			t.Errorf("Schema(%T) error = nil, want an error", v)
		}
	}
}

type tree struct {
	Name     string `json:"name,omitempty" jsonschema:"minLength=2"`
	Children []tree `json:"children,omitempty"`
}

func TestRecursiveType(t *testing.T) {
	if _, err := options.Schema(tree{}); err != nil {
		t.Fatalf("Schema() error = %v", err)
	}
	var got tree
	problems := options.Load(yamlSource("name: ab\nchildren:\n  - name: bc\n    children: [{name: c}, {nme: d}]\n"), &got)
	want := []options.Problem{ // the unknown key does not hide the other problem
		{Path: "children[0].children[0].name", Line: 4, Column: 23, Message: "must be at least 2 characters long"},
		{Path: "children[0].children[1].nme", Line: 4, Column: 28, Message: `unknown field (did you mean "name"?)`},
	}
	if diff := cmp.Diff(want, problems); diff != "" {
		t.Errorf("Load() problems (-want +got):\n%s", diff)
	}
	problems = options.Load(yamlSource("name: ab\nchildren:\n  - name: bc\n    children: [{name: c}]\n"), &got)
	want = []options.Problem{{Path: "children[0].children[0].name", Line: 4, Column: 23, Message: "must be at least 2 characters long"}}
	if diff := cmp.Diff(want, problems); diff != "" {
		t.Errorf("Load() problems (-want +got):\n%s", diff)
	}
}

func TestConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			var o testOptions
			if problems := options.Load(yamlSource(validYAML), &o); len(problems) > 0 {
				t.Errorf("Load() problems: %v", problems)
			}
			if _, err := options.Schema(o); err != nil {
				t.Errorf("Schema() error = %v", err)
			}
		})
	}
	wg.Wait()
}

func TestProblemString(t *testing.T) {
	for _, tt := range []struct {
		p    options.Problem
		want string
	}{
		{options.Problem{Path: "ttl", Line: 3, Column: 2, Message: "must be >= 0"}, "ttl: must be >= 0"},
		{options.Problem{Path: "limits.burst", Message: "must be <= 1000"}, "limits.burst: must be <= 1000"},
		{options.Problem{Message: "must be a mapping, got a list"}, "must be a mapping, got a list"},
	} {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.p, got, tt.want)
		}
	}
}

// customOptions has fields of types that decode themselves.
type customOptions struct {
	At    time.Time       `json:"at,omitzero"`
	Level slog.Level      `json:"level,omitempty" jsonschema:"enum=INFO,enum=WARN"`
	Raw   json.RawMessage `json:"raw,omitempty"`
}

func TestLoadCustomTypes(t *testing.T) {
	var got customOptions
	if problems := options.Load(yamlSource("at: 2024-01-02\nlevel: warn\nraw: {a: [1, 2]}\n"), &got); len(problems) > 0 {
		t.Fatalf("Load() problems: %v", problems)
	}
	want := customOptions{At: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), Level: slog.LevelWarn, Raw: json.RawMessage(`{"a": [1, 2]}`)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load() options (-want +got):\n%s", diff)
	}

	for _, tt := range []struct {
		name, data string
		want       []options.Problem
	}{
		{
			name: "not a time",
			data: "at: yesterday\n",
			want: []options.Problem{{Path: "at", Line: 1, Column: 5, Message: `must be a time such as "2006-01-02T15:04:05Z" or "2006-01-02"`}},
		},
		{
			name: "UnmarshalText fails",
			data: "level: loud\n",
			want: []options.Problem{{Path: "level", Line: 1, Column: 8, Message: `is not valid: slog: level string "…": unknown name`}},
		},
		{
			name: "UnmarshalJSON fails",
			data: "level: {a: 1}\n",
			want: []options.Problem{{Path: "level", Line: 1, Column: 8, Message: "is not valid: invalid syntax"}},
		},
		{
			name: "schema of a type that marshals itself",
			data: "level: error\n",
			want: []options.Problem{{Path: "level", Line: 1, Column: 8, Message: `must be one of "INFO", "WARN"`}},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got customOptions
			problems := options.Load(yamlSource(tt.data), &got)
			if diff := cmp.Diff(tt.want, problems); diff != "" {
				t.Errorf("Load() problems (-want +got):\n%s", diff)
			}
		})
	}
}
