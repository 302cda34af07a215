package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/plykit/ply"
	"github.com/plykit/ply/cli"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type skip struct {
	Skip bool `json:"skip,omitempty"`
}

// testPlugin wraps every HTTP route unless its route options say skip.
func testPlugin(name string, prio int, requires ...string) func() ply.Plugin {
	var deps []ply.Dependency
	for _, r := range requires {
		deps = append(deps, ply.Dependency{Name: r})
	}
	return func() ply.Plugin {
		return ply.Func{
			Meta:        ply.Info{Name: name, Version: "1.0.0", Priority: prio, Requires: deps, Kinds: []ply.Kind{ply.KindHTTP}},
			HandlerOpts: func() any { return &skip{} },
			OnWrap: func(_ context.Context, t ply.Target) (ply.Wrap, error) {
				if s, ok := t.Options.(*skip); ok && s.Skip {
					return ply.Wrap{}, nil
				}
				return ply.Wrap{Layer: func(ctx context.Context, _ *ply.Call, n ply.Next) error { return n.Run(ctx) }}, nil
			},
		}
	}
}

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := cli.New(cli.WithPlugin("test.auth", testPlugin("test.auth", ply.Security, "test.log")), cli.WithPlugin("test.log", testPlugin("test.log", ply.Logging)))
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path) //nolint:gosec // a golden file under testdata, named by the test
	if err != nil {
		t.Fatalf("%v (run go test ./cli -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

func TestGolden(t *testing.T) {
	for _, tt := range []struct {
		golden string
		args   []string
	}{
		{"explain.golden", []string{"explain", "testdata/layers.yaml"}},
		{"explain-route.golden", []string{"explain", "testdata/layers.yaml", "GET /public"}},
		{"graph.dot.golden", []string{"graph", "testdata/layers.yaml"}},
		{"graph.mermaid.golden", []string{"graph", "--format", "mermaid", "testdata/layers.yaml"}},
		{"graph.svg.golden", []string{"graph", "--format", "svg", "testdata/layers.yaml"}},
		{"validate-ok.golden", []string{"validate", "testdata/layers.yaml"}},
		{"explain-tenant.golden", []string{"explain", "testdata/tenants.yaml", "--tenant", "quiet"}},
		{"explain-tenant-first.golden", []string{"explain", "testdata/tenants.yaml", "GET /hello", "--tenant", "first"}},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			out, err := run(t, tt.args...)
			if err != nil {
				t.Fatalf("ply %s: %v\n%s", strings.Join(tt.args, " "), err, out)
			}
			golden(t, tt.golden, out)
		})
	}
}

// validate prints every problem with its position and fails.
func TestValidateBroken(t *testing.T) {
	_, err := run(t, "validate", "testdata/broken.yaml")
	if err == nil {
		t.Fatal("validate of a broken file succeeded")
	}
	golden(t, "validate-broken.golden", err.Error()+"\n")
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"graph", "--format", "png", "testdata/layers.yaml"}, {"explain", "testdata/layers.yaml", "GET /nope"}, {"validate", "testdata/missing.yaml"}} {
		if _, err := run(t, args...); err == nil {
			t.Errorf("ply %v succeeded", args)
		}
	}
}

// Usage errors exit 2, failures 1, everywhere.
func TestExitCodes(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want int
	}{
		{nil, 2},
		{[]string{"bogus"}, 2},
		{[]string{"validte", "testdata/layers.yaml"}, 2},
		{[]string{"validate"}, 2},
		{[]string{"validate", "a.yaml", "b.yaml"}, 2},
		{[]string{"validate", "--strict", "testdata/layers.yaml"}, 2},
		{[]string{"plugins", "extra"}, 2},
		{[]string{"graph", "--format", "png", "testdata/layers.yaml"}, 2},
		{[]string{"explain", "testdata/layers.yaml", "GET /nope"}, 2},
		{[]string{"validate", "testdata/broken.yaml"}, 1},
		{[]string{"validate", "testdata/missing.yaml"}, 1},
		{[]string{"run", "testdata/broken.yaml"}, 1},
		{[]string{"validate", "testdata/layers.yaml"}, 0},
		{[]string{"--version"}, 0},
		{[]string{"version"}, 0},
	} {
		_, err := run(t, tt.args...)
		if got := cli.ExitCode(err); got != tt.want {
			t.Errorf("ply %s: exit %d (%v), want %d", strings.Join(tt.args, " "), got, err, tt.want)
		}
	}
}

func TestUnknownCommandSuggests(t *testing.T) {
	_, err := run(t, "valdate", "testdata/layers.yaml")
	if err == nil || !strings.Contains(err.Error(), `did you mean "validate"?`) {
		t.Errorf("ply valdate: %v, want a suggestion", err)
	}
}

func TestVersionFlag(t *testing.T) {
	out, err := run(t, "--version")
	if err != nil || !strings.HasPrefix(out, "ply ") {
		t.Fatalf("ply --version = %q, %v", out, err)
	}
	if again, _ := run(t, "version"); again != out {
		t.Errorf("ply version = %q, ply --version = %q; want the same", again, out)
	}
}

// validate fails for every file that run rejects before it binds, with the
// same problems, each with its position.
func TestValidateRejectsWhatRunRejects(t *testing.T) {
	for _, tt := range []struct {
		name, file string
		want       []string // the error's lines, after the file name
	}{
		{name: "route patterns", file: "modules:\n  - name: m\n    routes:\n      - route: FOO BAR BAZ\n        static: {text: a}\n      - route: GET hi\n        static: {text: a}\n      - route: GET /x/{\n        static: {text: a}\n",
			want: []string{
				`:4:16: modules[0].routes[0].route: route "FOO BAR BAZ": write a method and a path that starts with "/", such as "GET /hello"`,
				`:6:16: modules[0].routes[1].route: route "GET hi": write a method and a path that starts with "/", such as "GET /hello"`,
				`:8:16: modules[0].routes[2].route: route "GET /x/{" is not a valid net/http pattern: at offset 7: bad wildcard segment (must end with '}'); write [METHOD ]/path, with {name} or {name...} wildcards`,
			}},
		{name: "the same route in two modules", file: "modules:\n  - name: a\n    prefix: /api\n    routes:\n      - route: GET /x\n        static: {text: a}\n  - name: b\n    routes:\n      - route: GET /api/x\n        static: {text: b}\n",
			want: []string{`:9:16: modules[1].routes[0].route: route "GET /api/x" conflicts with route "GET /x" of module a at line 5: GET /api/x matches the same requests as GET /api/x; change one of them`}},
		{name: "bad addr", file: "plugins:\n  - name: httpserver\n    options:\n      addr: not-an-addr\nmodules:\n  - name: m\n    routes:\n      - route: GET /x\n        static: {text: a}\n",
			want: []string{`:4:13: plugin httpserver: addr: `}},
		{name: "bad listen", file: "listen: not-an-addr\nmodules:\n  - name: m\n    routes:\n      - route: GET /x\n        static: {text: a}\n",
			want: []string{`:1:9: plugin httpserver: addr: `}},
		{name: "empty file", file: "",
			want: []string{`: nothing to run: list plugins, or modules with routes, such as "modules: [{name: site, routes: [{route: GET /hello, static: {text: hello}}]}]"`}},
		{name: "problems of the file and of the plugins, in file order", file: "plugins:\n  - name: test.auth\n  - name: httpserver\n    options: {maxBodyBytes: -5, shutdownTimout: 1s}\n  - name: test.lg\nmodules:\n  - name: m\n    routes:\n      - route: GET hi\n        static: {text: a}\n",
			want: []string{
				":2:11: plugin test.auth@1.0.0 requires test.log: ply: plugin not registered", // at the plugin's entry
				`:4:29: plugin httpserver: maxBodyBytes: must be >= -1`,
				`:4:33: plugin httpserver: shutdownTimout: unknown field (did you mean "shutdownTimeout"?)`,
				`:5:11: plugins[2].name: no plugin named "test.lg"; did you mean "test.log"? (ply plugins lists them all)`,
				`:9:16: modules[0].routes[0].route: route "GET hi": write a method and a path that starts with "/", such as "GET /hello"`,
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ply.yaml")
			if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, cmd := range []string{"validate", "run"} {
				_, err := run(t, cmd, path)
				if cli.ExitCode(err) != 1 {
					t.Fatalf("ply %s: exit %d (%v), want 1", cmd, cli.ExitCode(err), err)
				}
				lines := strings.Split(err.Error(), "\n")
				if len(lines) != len(tt.want) {
					t.Fatalf("ply %s: %d problems, want %d:\n%v", cmd, len(lines), len(tt.want), err)
				}
				for i, line := range lines {
					want := tt.want[i]
					if strings.HasPrefix(want, ":") {
						want = path + want
					}
					if !strings.HasPrefix(line, want) {
						t.Errorf("ply %s: problem %d\n got %s\nwant %s", cmd, i, line, want)
					}
				}
			}
		})
	}
}

func TestPluginsSchemaIsOneJSONDocument(t *testing.T) {
	out, err := run(t, "plugins", "--schema")
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]struct {
		Version string          `json:"version"`
		Schema  json.RawMessage `json:"schema"`
	}
	if err := json.Unmarshal([]byte(out), &all); err != nil {
		t.Fatalf("ply plugins --schema is not one JSON document: %v\n%.300s", err, out)
	}
	if s := all["httpserver"].Schema; !json.Valid(s) || !strings.Contains(string(s), `"addr"`) {
		t.Errorf("httpserver's schema = %s, want its options", s)
	}
	if s := all["test.log"]; s.Version != "1.0.0" || string(s.Schema) != "null" {
		t.Errorf("test.log = %+v, want version 1.0.0 and a null schema", s)
	}
}

// The README shows the example gateway's plugin graph: docs/gateway.svg is
// what `ply graph -f svg examples/gateway/ply.yaml` draws (go test ./cli
// -update redraws it).
func TestReadmeGraph(t *testing.T) {
	out, err := run(t, "graph", "--format", "svg", filepath.Join("..", "examples", "gateway", "ply.yaml"))
	if err != nil {
		t.Fatalf("ply graph: %v\n%s", err, out)
	}
	path := filepath.Join("..", "docs", "gateway.svg")
	if *update {
		if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path) //nolint:gosec // the fixed path docs/gateway.svg
	if err != nil {
		t.Fatalf("%v (run go test ./cli -update to draw it)", err)
	}
	if diff := cmp.Diff(string(want), out); diff != "" {
		t.Errorf("docs/gateway.svg is not what ply graph draws (go test ./cli -update redraws it) (-want +got):\n%s", diff)
	}
}
