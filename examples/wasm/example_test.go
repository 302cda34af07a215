// Package wasmexample runs examples/wasm/ply.yaml as ply run does: the deny
// list built from source to WebAssembly, on a real listener.
package wasmexample_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/internal/config"
	"github.com/plykit/ply/internal/wasmtest"
	"github.com/plykit/ply/stock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPlyYAML(t *testing.T) {
	dir := t.TempDir()
	built, err := wasmtest.Build("denylist")
	if err != nil {
		t.Fatal(err)
	}
	for from, to := range map[string]string{built: "denylist.wasm", "ply.yaml": "ply.yaml"} {
		b, err := os.ReadFile(from) //nolint:gosec // the test's own files
		if err != nil {
			t.Fatal(err)
		}
		if to == "ply.yaml" { // any free port
			b = []byte(strings.Replace(string(b), "listen: 127.0.0.1:8080", "listen: 127.0.0.1:0", 1))
		}
		if err := os.WriteFile(filepath.Join(dir, to), b, 0o600); err != nil { //nolint:gosec // into the test's temporary directory
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "ply.yaml")
	data, err := config.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file, data, stock.Catalog(), "httpserver")
	if err != nil {
		t.Fatal(err)
	}
	h, err := ply.New(cfg.Plugins, append(cfg.Options, ply.WithLogger(discard()))...)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := h.Plan()
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, in := range plan.Order(ply.ChainOrder) {
		order = append(order, in.Name)
		if in.Name == "denylist" && in.Priority != ply.Security {
			t.Errorf("denylist's priority %d, want Security", in.Priority)
		}
	}
	if got, want := strings.Join(order, " "), "requestid accesslog denylist httpserver"; got != want {
		t.Errorf("chain order %q, want %q", got, want)
	}
	if err := h.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := h.Stop(context.WithoutCancel(t.Context())); err != nil {
			t.Error(err)
		}
	}()
	srv, err := ply.Lookup(h, httpserver.Key)
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + srv.Addr().String() + "/hello"
	for _, tt := range []struct {
		user, wantBody string
		wantCode       int
	}{
		{user: "mallory", wantCode: 403, wantBody: "you are on the list\n"},
		{user: "Eve", wantCode: 403, wantBody: "you are on the list\n"},
		{user: "alice", wantCode: 200, wantBody: "hello\n"},
	} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-User", tt.user)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != tt.wantCode || string(body) != tt.wantBody {
			t.Errorf("%s: %d %q, want %d %q", tt.user, res.StatusCode, body, tt.wantCode, tt.wantBody)
		}
	}
	http.DefaultClient.CloseIdleConnections()
}
