package cli_test

import (
	"bytes"
	"context"
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
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
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
