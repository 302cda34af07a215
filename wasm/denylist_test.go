package wasm_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply"
	"github.com/plykit/ply/option"
	"github.com/plykit/ply/plytest"
	"github.com/plykit/ply/wasm"
)

func TestDenylistInfo(t *testing.T) {
	p := open(t, denylistWasm, wasm.Config{})
	want := ply.Info{Name: "denylist", Version: "1.0.0", Priority: ply.Security, Kinds: []ply.Kind{ply.KindHTTP},
		Description: "refuses requests whose header names a denied value"}
	if diff := cmp.Diff(want, p.Info()); diff != "" {
		t.Errorf("Info (-want +got):\n%s", diff)
	}
	if p.Runtime() != "wasm" {
		t.Errorf("Runtime() = %q", p.Runtime())
	}
	schema, err := ply.Schema(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"deny"`, `"minItems": 1`, `"minimum": 400`, `"maximum": 599`, `"required"`, "the values refused"} {
		if !strings.Contains(string(schema), want) {
			t.Errorf("schema lacks %s:\n%s", want, schema)
		}
	}
}

// TestDenylistOptions: a wasm plugin's options go through ply's option
// path, with line:column in the file, as a native plugin's.
func TestDenylistOptions(t *testing.T) {
	for _, tt := range []struct {
		name  string
		yaml  string
		want  []string // "line:col field: problem" fragments, in order
		valid bool
	}{
		{name: "valid", yaml: "deny: [mallory]\nstatus: 451\n", valid: true},
		{name: "status out of range", yaml: "deny: [mallory]\nstatus: 200\n", want: []string{"ply.yaml:2:9: plugin denylist: status: must be >= 400"}},
		{name: "deny missing", yaml: "status: 403\n", want: []string{"plugin denylist", "deny"}},
		{name: "unknown key", yaml: "deny: [a]\ndenny: [b]\n", want: []string{"ply.yaml:2:1", "denny"}},
		{name: "wrong type", yaml: "deny: mallory\n", want: []string{"ply.yaml:1:7", "deny"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := open(t, denylistWasm, wasm.Config{})
			h, err := ply.New([]ply.Plugin{p}, ply.WithOptions("denylist", ply.RawOptions{File: "ply.yaml", Data: []byte(tt.yaml)}))
			if err != nil {
				t.Fatal(err)
			}
			_, err = h.Plan()
			if tt.valid {
				if err != nil {
					t.Fatalf("Plan: %v", err)
				}
				return
			}
			if _, ok := errors.AsType[*option.Error](err); !ok {
				t.Fatalf("Plan error = %v, want an *option.Error", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func denylistHost(t *testing.T, yaml string) *ply.Chain {
	t.Helper()
	p := open(t, denylistWasm, wasm.Config{})
	var s served
	return start(t, &s, []ply.Plugin{p}, ply.WithOptions("denylist", ply.RawOptions{File: "ply.yaml", Data: []byte(yaml)}))
}

func TestDenylist(t *testing.T) {
	ch := denylistHost(t, "header: X-Who\ndeny: [Mallory, eve]\nstatus: 451\nmessage: go away\n")
	for _, tt := range []struct {
		name, who string
		wantCode  int
		wantBody  string
		wantPass  bool
	}{
		{name: "denied", who: "mallory", wantCode: 451, wantBody: "go away\n"},
		{name: "denied other case", who: "EVE", wantCode: 451, wantBody: "go away\n"},
		{name: "allowed", who: "alice", wantCode: 200, wantPass: true},
		{name: "no header", who: "", wantCode: 200, wantPass: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/x", nil)
			if tt.who != "" {
				r.Header.Set("X-Who", tt.who)
			}
			w := httptest.NewRecorder()
			if _, err := ch.Serve(t.Context(), r, w); err != nil {
				t.Fatal(err)
			}
			if w.Code != tt.wantCode || (tt.wantBody != "" && w.Body.String() != tt.wantBody) {
				t.Errorf("got %d %q, want %d %q", w.Code, w.Body, tt.wantCode, tt.wantBody)
			}
			if got := r.Header.Get("X-Denylist") == "passed"; got != tt.wantPass {
				t.Errorf("passed the layer: %v, want %v", got, tt.wantPass)
			}
		})
	}
}

// TestDenylistConformance runs the example plugin through the conformance
// suite every native plugin passes.
func TestDenylistConformance(t *testing.T) {
	p := open(t, denylistWasm, wasm.Config{Limits: wasm.Limits{Pool: 4}})
	plytest.Run(t, p, plytest.Conformance{
		Options: []ply.Option{ply.WithOptions("denylist", ply.RawOptions{File: "ply.yaml", Data: []byte("deny: [mallory]\n")}),
			ply.WithLogger(discard())},
		NewCall: func() (any, any) {
			r := httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/x", nil)
			r.Header.Set("X-User", "mallory")
			return r, httptest.NewRecorder()
		},
	})
}

// TestReload: a changed module file makes the plugin stale; reopened, it
// replaces the running one through Host.Reload, and the new module serves.
func TestReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plugin.wasm")
	copyFile(t, hostileWasm, path)
	p := open(t, path, wasm.Config{Grants: hostileGrants})
	var s served
	h, ch := startHost(t, &s, []ply.Plugin{p}, ply.WithLogger(discard()))
	if p.Stale() {
		t.Fatal("stale before any change")
	}
	if _, err := get(t, ch, "ok"); err != nil {
		t.Fatal(err)
	}
	copyFile(t, denylistWasm, path) // another module at the same path
	if !p.Stale() {
		t.Fatal("not stale after the file changed")
	}
	np, err := p.Reopen(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	rl, err := h.Reload(t.Context(), ply.Change{Plugins: []ply.Plugin{np},
		Options: []ply.Option{site(&s), ply.WithLogger(discard()), ply.WithOptions("denylist", ply.RawOptions{File: "ply.yaml", Data: []byte("deny: [mallory]\n")})}})
	if err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if !cmp.Equal(rl.Added, []string{"denylist@1.0.0"}) || !cmp.Equal(rl.Removed, []string{"hostile@0.1.0"}) {
		t.Errorf("reload added %v removed %v", rl.Added, rl.Removed)
	}
	r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/x", nil)
	r.Header.Set("X-User", "mallory")
	w := httptest.NewRecorder()
	if _, err := ch.Serve(t.Context(), r, w); err != nil || w.Code != http.StatusForbidden {
		t.Errorf("after the reload: %d, %v; want 403 from the new module", w.Code, err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from) //nolint:gosec // the guest the test built
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil { //nolint:gosec // into the test's temporary directory
		t.Fatal(err)
	}
}
