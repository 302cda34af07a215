package options_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply/internal/options"
	"github.com/plykit/ply/option"
)

// laughs is the "billion laughs" document: ten anchors, each a list of ten
// aliases to the one before, under key in testOptions' tags... or anywhere.
func laughs(levels int) string {
	var b strings.Builder
	b.WriteString("name: x\nbomb:\n  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < levels; i++ {
		fmt.Fprintf(&b, "  a%d: &a%d [", i, i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

type anyOptions struct {
	Name string         `json:"name,omitempty"`
	Bomb map[string]any `json:"bomb,omitempty"`
	Tags map[string]any `json:"tags,omitempty"`
}

// heapGrowth returns how many bytes f allocated.
func heapGrowth(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestLoadRefusesAliasBombs(t *testing.T) {
	doc := laughs(10)
	if len(doc) > 700 {
		t.Fatalf("the bomb is %d bytes; it should be small", len(doc))
	}
	var problems []*option.Error
	alloc := heapGrowth(func() {
		var got anyOptions
		problems = options.Load(options.Source{File: "ply.yaml", Data: []byte(doc)}, &got)
	})
	want := []*option.Error{{Line: 7, Column: 47, Problem: fmt.Sprintf(
		"aliases expand the document by more than %d values; write fewer nested aliases", options.MaxAliasNodes)}}
	if diff := cmp.Diff(want, problems); diff != "" {
		t.Errorf("Load() problems (-want +got):\n%s", diff)
	}
	if alloc > 16<<20 {
		t.Errorf("Load allocated %d MiB for a %d-byte bomb", alloc>>20, len(doc))
	}
	// Aliases that add fewer values are fine.
	var got anyOptions
	if problems := options.Load(options.Source{File: "ply.yaml", Data: []byte(laughs(4))}, &got); len(problems) > 0 {
		t.Errorf("Load() of 4 levels: %v", problems)
	}
}

func TestLoadRefusesDeepNesting(t *testing.T) {
	for _, tt := range []struct {
		name, doc string
		want      *option.Error
	}{
		{name: "flow", doc: "tags:\n  x: " + strings.Repeat("[", 100_000),
			want: &option.Error{Line: 2, Column: 1006, Problem: "is nested too deeply (more than 1000 levels or columns of indentation); flatten the document"}},
		{name: "block list", doc: "tags:\n  x: " + strings.Repeat("- ", 50_000) + "x",
			want: &option.Error{Line: 2, Column: 1002, Problem: "is nested too deeply (more than 1000 levels or columns of indentation); flatten the document"}},
		{name: "indentation", doc: "tags:\n" + strings.Repeat(" ", 1500) + "x: 1\n",
			want: &option.Error{Line: 2, Column: 1501, Problem: "is nested too deeply (more than 1000 levels or columns of indentation); flatten the document"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			var got anyOptions
			problems := options.Load(options.Source{File: "ply.yaml", Data: []byte(tt.doc)}, &got)
			if diff := cmp.Diff([]*option.Error{tt.want}, problems); diff != "" {
				t.Errorf("Load() problems (-want +got):\n%s", diff)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Load took %v", d)
			}
		})
	}
}

func TestLoadAliasInsideItsAnchor(t *testing.T) {
	var got anyOptions
	problems := options.Load(options.Source{File: "ply.yaml", Data: []byte("tags: &t {a: *t}\n")}, &got)
	if len(problems) != 1 || problems[0].Line != 1 {
		t.Fatalf("Load() = %v, want one problem on line 1", problems)
	}
}

type envOptions struct {
	Name   string        `json:"name,omitempty"`
	Port   int           `json:"port,omitempty" jsonschema:"maximum=65535"`
	Debug  bool          `json:"debug,omitempty"`
	TTL    time.Duration `json:"ttl,omitempty"`
	Note   string        `json:"note,omitempty"`
	Quoted string        `json:"quoted,omitempty"`
	Tags   map[string]string
}

func TestLoadEnv(t *testing.T) {
	env := map[string]string{"NAME": "shop", "PORT": "8080", "ON": "true", "TTL": "2s", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	doc := `# ${NOT_IN_A_COMMENT}
name: ${NAME}
port: ${PORT}
debug: ${ON}
ttl: ${TTL}
note: |
  hello ${NAME}, $${NAME} stays
quoted: "${PORT}"
tags:
  ${KEY}: keys are never expanded
  empty: "[${EMPTY}]"
`
	var got envOptions
	problems := options.Load(options.Source{File: "ply.yaml", Data: []byte(doc), Env: lookup}, &got)
	if len(problems) > 0 {
		t.Fatalf("Load() = %v", problems)
	}
	want := envOptions{Name: "shop", Port: 8080, Debug: true, TTL: 2 * time.Second, Note: "hello shop, ${NAME} stays\n", Quoted: "8080",
		Tags: map[string]string{"${KEY}": "keys are never expanded", "empty": "[]"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load() (-want +got):\n%s", diff)
	}

	// Without Env, "${" is text.
	var plain envOptions
	if problems := options.Load(options.Source{File: "ply.yaml", Data: []byte("name: ${NAME}\n")}, &plain); len(problems) > 0 || plain.Name != "${NAME}" {
		t.Errorf("Load() without Env = %+v, %v; want the text as written", plain, problems)
	}
}

func TestLoadEnvProblems(t *testing.T) {
	env := map[string]string{"BIG": "70000", "WORD": "many"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	doc := "plugins:\n  shop:\n    options:\n      name: ${NOPE}\n      port: ${BIG}\n      note: ${WORD}\n      ttl: ${WORD}\n  other:\n    options:\n      name: ${ALSO_NOPE}\n"
	var got envOptions
	problems := options.Load(options.Source{File: "ply.yaml", Data: []byte(doc), Path: "$.plugins.shop.options", Env: lookup}, &got)
	want := []*option.Error{
		{Field: "name", Line: 4, Column: 13, Problem: "environment variable NOPE is not set; export it, or write $${NOPE} for a literal ${NOPE}"},
		{Field: "port", Line: 5, Column: 13, Problem: "must be <= 65535"},
		{Field: "ttl", Line: 7, Column: 12, Problem: `must be a duration such as "1.5s" or "2m" (a number and a unit: ns, us, ms, s, m or h)`},
	}
	if diff := cmp.Diff(want, problems); diff != "" {
		t.Errorf("Load() problems (-want +got):\n%s", diff)
	}
}

type typedOptions struct {
	Name  string `json:"name,omitempty" jsonschema:"required,minLength=3"`
	Burst int    `json:"burst,omitempty" jsonschema:"minimum=1"`
	Rate  int    `json:"rate,omitempty" jsonschema:"minimum=0"`
	Items []int  `json:"items,omitempty"`
}

// A value of the wrong type does not hide the other problems of the same
// options, and problems that follow from leaving it out are not reported.
func TestLoadTypeErrorKeepsOtherProblems(t *testing.T) {
	doc := "name: [x]\nburst: -3\nrate: -1\nitems: [1, two, 3]\nextra: 1\n"
	var got typedOptions
	problems := options.Load(options.Source{File: "ply.yaml", Data: []byte(doc)}, &got)
	want := []*option.Error{
		{Field: "name", Line: 1, Column: 7, Problem: "must be a string, got a list"},
		{Field: "burst", Line: 2, Column: 8, Problem: "must be >= 1"},
		{Field: "rate", Line: 3, Column: 7, Problem: "must be >= 0"},
		{Field: "items[1]", Line: 4, Column: 12, Problem: "must be an integer, got a string"},
		{Field: "extra", Line: 5, Column: 1, Problem: `unknown field (known fields: "name", "burst", "rate", "items")`},
	}
	if diff := cmp.Diff(want, problems); diff != "" {
		t.Errorf("Load() problems (-want +got):\n%s", diff)
	}
}

type secretOptions struct {
	APIKeys []struct {
		Name string `json:"name"`
		Key  string `json:"key" jsonschema:"minLength=16"`
	} `json:"apiKeys,omitempty"`
	Token int    `json:"token,omitempty"`
	Level int    `json:"level,omitempty"`
	Mode  string `json:"mode,omitempty" jsonschema:"enum=a,enum=b"`
}

// Messages never repeat a string from the file, nor a number under a key
// that names a secret.
func TestProblemsDoNotEchoValues(t *testing.T) {
	doc := "apiKeys:\n  - name: ops\n    key: [hunter2-super-secret]\n  - name: dev\n    key: 12345\ntoken: 987654321987654321987654321\nlevel: very-secret-level\nmode: secret-mode\n"
	var got secretOptions
	problems := options.Load(options.Source{File: "ply.yaml", Data: []byte(doc)}, &got)
	if len(problems) != 5 {
		t.Errorf("Load() = %v, want 5 problems", problems)
	}
	for _, p := range problems {
		for _, secret := range []string{"hunter2", "12345", "987654321", "very-secret", "secret-mode"} {
			if strings.Contains(p.Problem, secret) {
				t.Errorf("problem %q repeats %q from the file", p, secret)
			}
		}
	}
}

// Document.Position finds values by the paths problems use.
func TestDocumentPosition(t *testing.T) {
	doc, problems := options.Parse(hostSource("$.plugins"))
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	for _, tt := range []struct {
		path      string
		line, col int
	}{
		{"cache.options.servers[0].url", 14, 16},
		{"cache.options.limits.rate", 4, 11}, // through the alias
		{"queue.options", 23, 14},
		{"cache.nothing.here", 8, 5}, // the nearest node
	} {
		if line, col := doc.Position(tt.path); line != tt.line || col != tt.col {
			t.Errorf("Position(%q) = %d:%d, want %d:%d", tt.path, line, col, tt.line, tt.col)
		}
	}
}

// A host loads every plugin's, module's and route's options from one file:
// while a Document of it is kept, each Load reuses its parse, so loading
// them all takes time in proportion to the file, not to its square.
func TestLoadReusesTheParse(t *testing.T) {
	var b strings.Builder
	b.WriteString("plugins:\n")
	const n = 300
	for i := range n {
		fmt.Fprintf(&b, "  p%d:\n    options: {name: p%d, ttl: 1s, tags: {a: b}}\n", i, i)
	}
	data := []byte(b.String())
	var doc *options.Document
	parseAlloc := heapGrowth(func() { doc, _ = options.Parse(options.Source{File: "ply.yaml", Data: data}) })
	loadAlloc := heapGrowth(func() {
		for i := range n {
			var got testOptions
			if problems := options.Load(options.Source{File: "ply.yaml", Data: data, Path: fmt.Sprintf("$.plugins.p%d.options", i)}, &got); len(problems) > 0 || got.Name != fmt.Sprintf("p%d", i) {
				t.Fatalf("Load(p%d) = %+v, %v", i, got, problems)
			}
		}
	})
	runtime.KeepAlive(doc)
	if loadAlloc > 4*parseAlloc {
		t.Errorf("%d Loads allocated %d KiB, the parse alone %d KiB: each Load parses again", n, loadAlloc>>10, parseAlloc>>10)
	}
	t.Logf("parse %d KiB, %d loads %d KiB", parseAlloc>>10, n, loadAlloc>>10)
}

type echoOptions struct {
	Mode  string `json:"mode,omitempty"`
	Token string `json:"token,omitempty"`
}

func (o *echoOptions) Validate() error {
	var errs []error
	if o.Mode != "" && o.Mode != "fast" {
		errs = append(errs, &option.Error{Field: "mode", Problem: fmt.Sprintf("must be fast, got %q", o.Mode)})
	}
	if len(o.Token) < 32 {
		errs = append(errs, &option.Error{Field: "token", Problem: fmt.Sprintf("must be at least 32 characters, got %s", o.Token)})
	}
	return errors.Join(errs...)
}

// A Validate method's message does not repeat the value either.
func TestValidateMethodMessagesDoNotEchoValues(t *testing.T) {
	var got echoOptions
	problems := options.Load(options.Source{File: "ply.yaml", Data: []byte("mode: slow-secret\ntoken: hunter2hunter2\n")}, &got)
	want := []*option.Error{
		{Field: "mode", Line: 1, Column: 7, Problem: `must be fast, got "…"`},
		{Field: "token", Line: 2, Column: 8, Problem: "must be at least 32 characters, got …"},
	}
	if diff := cmp.Diff(want, problems); diff != "" {
		t.Errorf("Load() problems (-want +got):\n%s", diff)
	}
}
