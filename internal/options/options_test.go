package options_test

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply/internal/options"
	"github.com/plykit/ply/option"
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
	Timeout time.Duration `json:"timeout,omitempty" jsonschema:"minimum=1ms"` // at least 1ms
}

// Validate checks what tags cannot express.
func (o *testOptions) Validate() error {
	var errs []error
	if o.Name == "reserved" {
		errs = append(errs, errors.New(`the name "reserved" is taken`))
	}
	if o.Limits.Burst > 0 && o.Limits.Rate == 0 {
		errs = append(errs, &option.Error{Field: "limits.rate", Problem: "must be set when burst is set"})
	}
	seen := map[string]int{}
	for i, s := range o.Servers {
		if j, dup := seen[s.URL]; dup {
			errs = append(errs, &option.Error{Field: fmt.Sprintf("servers[%d].url", i), Problem: fmt.Sprintf("must differ from servers[%d].url", j)})
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
		want []*option.Error
	}{
		{name: "valid YAML", src: yamlSource(validYAML)},
		{name: "valid JSON", src: options.Source{File: "ply.json", Data: []byte(validJSON)}},
		{
			name: "unknown key at root",
			src:  yamlSource("name: cache\ntll: 5s\n"),
			want: []*option.Error{
				{Field: "tll", Line: 2, Column: 1, Problem: `unknown field (did you mean "ttl"?)`},
			},
		},
		{
			name: "unknown nested keys",
			src:  yamlSource("name: cache\nlimits:\n  brust: 3\nservers:\n  - url: http://a\n  - URL: http://b\n"),
			want: []*option.Error{
				{Field: "limits.brust", Line: 3, Column: 3, Problem: `unknown field (did you mean "burst"?)`},
				{Field: "servers[1].URL", Line: 6, Column: 5, Problem: `unknown field (did you mean "url"?)`},
				{Field: "servers[1].url", Line: 6, Column: 5, Problem: "is required"},
			},
		},
		{
			name: "every unknown key",
			src:  yamlSource("tll: 5s\nname: cache\ncolour: red\nlimits: {rate: 1, brust: 2, size: 3}\n"),
			want: []*option.Error{
				{Field: "tll", Line: 1, Column: 1, Problem: `unknown field (did you mean "ttl"?)`},
				{Field: "colour", Line: 3, Column: 1, Problem: `unknown field (known fields: "name", "ttl", "mode", "limits", "servers", "tags", "debug")`},
				{Field: "limits.brust", Line: 4, Column: 19, Problem: `unknown field (did you mean "burst"?)`},
				{Field: "limits.size", Line: 4, Column: 29, Problem: `unknown field (known fields: "rate", "burst")`},
			},
		},
		{
			name: "type mismatches",
			src:  yamlSource("name: 5\nttl: abc\nlimits: {burst: many, rate: '2'}\ndebug: yes\nservers: https://x\ntags: {a: 1.10, b: [1]}\n"),
			want: []*option.Error{
				{Field: "name", Line: 1, Column: 7, Problem: `must be a string, got 5 (put it in quotes)`},
				{Field: "ttl", Line: 2, Column: 6, Problem: `must be a duration such as "1.5s" or "2m" (a number and a unit: ns, us, ms, s, m or h)`},
				{Field: "limits.burst", Line: 3, Column: 17, Problem: `must be an integer, got a string`},
				{Field: "limits.rate", Line: 3, Column: 29, Problem: `must be a number, got a string`},
				{Field: "debug", Line: 4, Column: 8, Problem: `must be true or false, got a string`},
				{Field: "servers", Line: 5, Column: 10, Problem: `must be a list, got a string`},
				{Field: "tags.a", Line: 6, Column: 11, Problem: `must be a string, got 1.10 (put it in quotes)`},
				{Field: "tags.b", Line: 6, Column: 20, Problem: `must be a string, got a list`},
			},
		},
		{
			name: "numbers out of range",
			src:  yamlSource("name: x\nlimits: {burst: 99999999999999999999, rate: .inf}\nservers: [{url: 'http://a', weight: 1.5, timeout: 5}]\n"),
			want: []*option.Error{
				{Field: "limits.burst", Line: 2, Column: 17, Problem: `must be an integer from -9223372036854775808 to 9223372036854775807, got 99999999999999999999`},
				{Field: "limits.rate", Line: 2, Column: 45, Problem: `must be a finite number, got .inf`},
				{Field: "servers[0].weight", Line: 3, Column: 37, Problem: `must be an integer, got 1.5`},
				{Field: "servers[0].timeout", Line: 3, Column: 51, Problem: `must be a duration such as "1.5s" or "2m" (a number and a unit: ns, us, ms, s, m or h), got 5`},
			},
		},
		{
			name: "duplicate keys",
			src:  options.Source{File: "ply.json", Data: []byte(`{"name": "a", "tags": {"x": "1", "x": "2"}, "name": "b"}`)},
			want: []*option.Error{
				{Field: "tags.x", Line: 1, Column: 34, Problem: `duplicate key (first at line 1); remove one`},
				{Field: "name", Line: 1, Column: 45, Problem: `duplicate key (first at line 1); remove one`},
			},
		},
		{
			name: "key on two lines",
			src:  yamlSource("name: x\ntags: {\"a\\nb\": c}\n"),
			want: []*option.Error{
				{Field: "tags", Line: 2, Column: 8, Problem: `key "a\nb" must be on one line`},
			},
		},
		{
			name: "minimum",
			src:  yamlSource("name: cache\nttl: -5s\n"),
			want: []*option.Error{
				{Field: "ttl", Line: 2, Column: 6, Problem: "must be >= 0s"},
			},
		},
		{
			name: "every schema problem",
			src:  yamlSource("name: Bad Name\nttl: -5s\nmode: mru\nlimits:\n  burst: 5000\nservers:\n  - url: ftp://x\n    timeout: 1us\n  - weight: -1\n"),
			want: []*option.Error{
				{Field: "name", Line: 1, Column: 7, Problem: `must match pattern "^[a-z][a-z0-9-]*$"`},
				{Field: "ttl", Line: 2, Column: 6, Problem: "must be >= 0s"},
				{Field: "mode", Line: 3, Column: 7, Problem: `must be one of "lru", "lfu"`},
				{Field: "limits.rate", Line: 5, Column: 3, Problem: "must be set when burst is set"}, // from Validate, alongside the schema
				{Field: "limits.burst", Line: 5, Column: 10, Problem: "must be <= 1000"},
				{Field: "servers[0].url", Line: 7, Column: 10, Problem: `must match pattern "^https?://"`},
				{Field: "servers[0].timeout", Line: 8, Column: 14, Problem: "must be >= 1ms"},
				{Field: "servers[1].url", Line: 9, Column: 5, Problem: "is required"},
				{Field: "servers[1].weight", Line: 9, Column: 13, Problem: "must be >= 0"},
			},
		},
		{
			name: "required field missing",
			src:  yamlSource("ttl: 1s\n"),
			want: []*option.Error{
				{Field: "name", Line: 1, Column: 1, Problem: "is required"},
			},
		},
		{
			name: "Validate method",
			src:  yamlSource("name: reserved\nlimits: {burst: 3}\nservers:\n- url: http://a\n- url: http://a\n"),
			want: []*option.Error{
				{Field: "", Line: 1, Column: 1, Problem: `the name "reserved" is taken`},
				{Field: "limits.rate", Line: 2, Column: 9, Problem: "must be set when burst is set"},
				{Field: "servers[1].url", Line: 5, Column: 8, Problem: "must differ from servers[0].url"},
			},
		},
		{
			name: "JSON positions",
			src:  options.Source{File: "ply.json", Data: []byte("{\n  \"name\": \"x\",\n  \"ttl\": 5,\n  \"limits\": {\"burst\": 0, \"rte\": 1}\n}\n")},
			want: []*option.Error{
				{Field: "ttl", Line: 3, Column: 10, Problem: `must be a duration such as "1.5s" or "2m" (a number and a unit: ns, us, ms, s, m or h), got 5`},
				{Field: "limits.rte", Line: 4, Column: 26, Problem: `unknown field (did you mean "rate"?)`},
			},
		},
		{
			name: "nested node: schema problems",
			src:  hostSource("$.plugins.cache.options"),
			want: []*option.Error{
				{Field: "ttl", Line: 11, Column: 12, Problem: "must be >= 0s"},
				{Field: "servers[0].url", Line: 14, Column: 16, Problem: `must match pattern "^https?://"`},
			},
		},
		{
			name: "nested node: unknown key beside a merge key",
			src:  hostSource("$.plugins.auth.options"),
			want: []*option.Error{
				{Field: "tll", Line: 20, Column: 7, Problem: `unknown field (did you mean "ttl"?)`},
			},
		},
		{
			name: "nested node: valid, with an alias to elsewhere in the file",
			src:  hostSource("$.plugins.queue.options"),
		},
		{
			name: "null node is validated as zero",
			src:  hostSource("$.plugins.logs.options"),
			want: []*option.Error{
				{Field: "name", Line: 21, Column: 3, Problem: "is required"},
			},
		},
		{
			name: "missing node is validated as zero",
			src:  hostSource("$.plugins.none.options"),
			want: []*option.Error{
				{Field: "name", Line: 6, Column: 1, Problem: "is required"},
			},
		},
		{
			name: "options path through a scalar",
			src:  hostSource("$.defaults.limits.rate.options"),
			want: []*option.Error{
				{Field: "", Line: 4, Column: 11, Problem: "$.defaults.limits.rate must be a mapping that holds the options, got 1"},
			},
		},
		{
			name: "options are not a mapping",
			src:  yamlSource("- a\n"),
			want: []*option.Error{
				{Field: "", Line: 1, Column: 1, Problem: "must be a mapping, got a list"},
			},
		},
		{
			name: "alias without anchor",
			src:  yamlSource("name: x\nlimits: *nope\n"),
			want: []*option.Error{
				{Field: "limits", Line: 2, Column: 9, Problem: "alias *nope has no anchor; define &nope before it"},
			},
		},
		{
			name: "syntax error",
			src:  yamlSource("name: x\nttl: [1, 2\n"),
			want: []*option.Error{
				{Field: "", Line: 2, Column: 6, Problem: "syntax error: sequence end token ']' not found"},
			},
		},
		{
			name: "syntax error elsewhere in the file",
			src:  options.Source{File: "ply.yaml", Data: []byte("plugins:\n  cache:\n    options: {name: x}\n  auth: {\n"), Path: "$.plugins.cache.options"},
			want: []*option.Error{
				{Field: "", Line: 4, Column: 9, Problem: "syntax error: could not find flow mapping end token '}'"},
			},
		},
		{
			name: "invalid options path",
			src:  hostSource("plugins.cache"),
			want: []*option.Error{
				{Problem: `invalid options path "plugins.cache": must start with "$"`},
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
		want := []*option.Error{{Problem: fmt.Sprintf("options must be decoded into a non-nil pointer to a struct, got %T", dst)}}
		if diff := cmp.Diff(want, problems); diff != "" {
			t.Errorf("Decode(%T) problems (-want +got):\n%s", dst, diff)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts any
		want []*option.Error
	}{
		{name: "valid", opts: validOptions},
		{name: "valid pointer", opts: &validOptions},
		{name: "zero value", opts: testOptions{}, want: []*option.Error{{Field: "name", Problem: "is required"}}},
		{name: "nil pointer is the zero value", opts: (*testOptions)(nil), want: []*option.Error{{Field: "name", Problem: "is required"}}},
		{
			name: "minimum",
			opts: testOptions{Name: "cache", TTL: -time.Second},
			want: []*option.Error{{Field: "ttl", Problem: "must be >= 0s, got -1s"}},
		},
		{
			name: "every schema problem",
			opts: testOptions{
				Name:    "Cache",
				Mode:    "mru",
				Limits:  limits{Rate: -1, Burst: 1001},
				Servers: []server{{URL: "http://a"}, {Weight: -2}, {URL: "http://c", Timeout: time.Microsecond}},
			},
			want: []*option.Error{
				{Field: "limits.burst", Problem: "must be <= 1000, got 1001"},
				{Field: "limits.rate", Problem: "must be >= 0, got -1"},
				{Field: "mode", Problem: `must be one of "lru", "lfu"`},
				{Field: "name", Problem: `must match pattern "^[a-z][a-z0-9-]*$"`},
				{Field: "servers[1].url", Problem: "is required"},
				{Field: "servers[1].weight", Problem: "must be >= 0, got -2"},
				{Field: "servers[2].timeout", Problem: "must be >= 1ms, got 1µs"},
			},
		},
		{
			name: "Validate method runs alongside the schema",
			opts: testOptions{Name: "reserved", TTL: -1},
			want: []*option.Error{{Problem: `the name "reserved" is taken`}, {Field: "ttl", Problem: "must be >= 0s, got -1ns"}},
		},
		{
			name: "Validate method with joined field errors",
			opts: testOptions{Name: "reserved", Limits: limits{Burst: 1}, Servers: []server{{URL: "http://a"}, {URL: "http://b"}, {URL: "http://a"}}},
			want: []*option.Error{
				{Field: "", Problem: `the name "reserved" is taken`},
				{Field: "limits.rate", Problem: "must be set when burst is set"},
				{Field: "servers[2].url", Problem: "must differ from servers[0].url"},
			},
		},
		{
			name: "not a struct",
			opts: 5,
			want: []*option.Error{{Problem: "options must be a struct or a pointer to a struct, got int"}},
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
	want := []*option.Error{{Field: "servers[1].weight", Line: 4, Column: 5, Problem: "must be >= 0"}}
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

func mustBeEven(field string) error { return &option.Error{Field: field, Problem: "must be even"} }

func TestValidateMethodErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want []*option.Error
	}{
		{name: "nil", err: nil},
		{name: "plain", err: errors.New("name and mode conflict"), want: []*option.Error{{Problem: "name and mode conflict"}}},
		{name: "field", err: mustBeEven("a.b"), want: []*option.Error{{Field: "a.b", Problem: "must be even"}}},
		{
			name: "wrapped field",
			err:  fmt.Errorf("check: %w", mustBeEven("n")),
			want: []*option.Error{{Field: "n", Problem: "check: must be even"}},
		},
		{
			name: "nested joins",
			err:  errors.Join(errors.New("one"), errors.Join(mustBeEven("x"), plainError{errors.New("two")})),
			want: []*option.Error{{Problem: "one"}, {Problem: "two"}, {Field: "x", Problem: "must be even"}}, // sorted by path
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
	type exclusiveDuration struct {
		D time.Duration `json:"d" jsonschema:"exclusiveMinimum=0"` // say minimum=1ns
	}
	type badDurationLimit struct {
		D time.Duration `json:"d" jsonschema:"maximum=soon"`
	}
	for _, v := range []any{nil, 5, []testOptions{}, badPattern{}, unsupported{}, exclusiveDuration{}, badDurationLimit{}} {
		if _, err := options.Schema(v); err == nil {
			t.Errorf("Schema(%T) error = nil, want an error", v)
		}
	}
}

type tree struct {
	Name     string `json:"name,omitempty" jsonschema:"minLength=2"`
	Children []tree `json:"children,omitempty"`
}

// durationOptions has durations in the places the schema describes them as
// strings: a field, a list and a map, with limits written as durations.
type durationOptions struct {
	Wait   time.Duration            `json:"wait,omitempty" jsonschema:"minimum=1ms,maximum=1m"`
	Steps  []time.Duration          `json:"steps,omitempty" jsonschema:"minimum=0"`
	ByName map[string]time.Duration `json:"byName,omitempty"`
}

func TestDurationLimitsAreWrittenAsPeopleWriteThem(t *testing.T) {
	type opts struct {
		A time.Duration `json:"a,omitempty" jsonschema:"minimum=90m,maximum=2h"`
	}
	got, err := options.Schema(opts{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"minDuration": "1h30m"`, `"maxDuration": "2h"`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("Schema() = %s, want %s in it", got, want)
		}
	}
}

func TestDurations(t *testing.T) {
	for _, tt := range []struct {
		name string
		src  *options.Source // nil: opts from code
		opts durationOptions
		want []*option.Error
	}{
		{name: "valid from code", opts: durationOptions{Wait: time.Second, Steps: []time.Duration{0, time.Hour}, ByName: map[string]time.Duration{"a": -time.Second}}},
		{name: "valid from a file", src: &options.Source{Data: []byte("wait: 1m\nsteps: [0s, 1h30m, .5s]\nbyName: {a: -1s}\n")}},
		{
			name: "limits from code",
			opts: durationOptions{Wait: 2 * time.Minute, Steps: []time.Duration{time.Second, -time.Millisecond}},
			want: []*option.Error{
				{Field: "steps[1]", Problem: "must be >= 0s, got -1ms"},
				{Field: "wait", Problem: "must be <= 1m, got 2m"},
			},
		},
		{
			name: "limits in a file",
			src:  &options.Source{Data: []byte("wait: 1us\nsteps: [1s, -2s]\n")},
			want: []*option.Error{
				{Field: "wait", Line: 1, Column: 7, Problem: "must be >= 1ms"},
				{Field: "steps[1]", Line: 2, Column: 13, Problem: "must be >= 0s"},
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []*option.Error
			if tt.src != nil {
				var o durationOptions
				got = options.Load(*tt.src, &o)
			} else {
				got = options.Validate(tt.opts, nil)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRecursiveType(t *testing.T) {
	if _, err := options.Schema(tree{}); err != nil {
		t.Fatalf("Schema() error = %v", err)
	}
	var got tree
	problems := options.Load(yamlSource("name: ab\nchildren:\n  - name: bc\n    children: [{name: c}, {nme: d}]\n"), &got)
	want := []*option.Error{ // the unknown key does not hide the other problem
		{Field: "children[0].children[0].name", Line: 4, Column: 23, Problem: "must be at least 2 characters long"},
		{Field: "children[0].children[1].nme", Line: 4, Column: 28, Problem: `unknown field (did you mean "name"?)`},
	}
	if diff := cmp.Diff(want, problems); diff != "" {
		t.Errorf("Load() problems (-want +got):\n%s", diff)
	}
	problems = options.Load(yamlSource("name: ab\nchildren:\n  - name: bc\n    children: [{name: c}]\n"), &got)
	want = []*option.Error{{Field: "children[0].children[0].name", Line: 4, Column: 23, Problem: "must be at least 2 characters long"}}
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
		want       []*option.Error
	}{
		{
			name: "not a time",
			data: "at: yesterday\n",
			want: []*option.Error{{Field: "at", Line: 1, Column: 5, Problem: `must be a time such as "2006-01-02T15:04:05Z" or "2006-01-02"`}},
		},
		{
			name: "UnmarshalText fails",
			data: "level: loud\n",
			want: []*option.Error{{Field: "level", Line: 1, Column: 8, Problem: `is not valid: slog: level string "…": unknown name`}},
		},
		{
			name: "UnmarshalJSON fails",
			data: "level: {a: 1}\n",
			want: []*option.Error{{Field: "level", Line: 1, Column: 8, Problem: "is not valid: invalid syntax"}},
		},
		{
			name: "schema of a type that marshals itself",
			data: "level: error\n",
			want: []*option.Error{{Field: "level", Line: 1, Column: 8, Problem: `must be one of "INFO", "WARN"`}},
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
