package cli

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/plykit/ply"
	"github.com/plykit/ply/internal/wasmtest"
	"github.com/plykit/ply/wasm"
)

// withSection returns module b with a custom section appended: another
// file, the same code.
func withSection(b []byte) []byte {
	const name = "ply.test"
	payload := append(append([]byte{byte(len(name))}, name...), "changed"...)
	return append(append(append([]byte(nil), b...), 0, byte(len(payload))), payload...) //nolint:gosec // a payload of 16 bytes
}

// ply run --watch reloads a wasm plugin whose module file changed, though
// ply.yaml did not: the plugin is replaced by one opened from the new file.
func TestWatchWasmModule(t *testing.T) {
	built, err := wasmtest.Build("../examples/wasm/denylist")
	if err != nil {
		t.Fatal(err)
	}
	module, err := os.ReadFile(built) //nolint:gosec // the guest the test built
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "denylist.wasm")
	if err := os.WriteFile(path, module, 0o600); err != nil { //nolint:gosec // into the test's temporary directory
		t.Fatal(err)
	}
	config := `plugins:
  - name: httpserver
    options: {addr: "127.0.0.1:0"}
  - name: denylist
    runtime: wasm
    path: ` + path + `
    options: {deny: [mallory]}
    limits: {deadline: 1s}
modules:
  - name: api
    routes:
      - route: GET /hello
        static: {text: hello}
`
	// Compile the changed module into the cache before the test, as ply
	// run would have for an earlier run: a compilation under -race takes
	// longer than await's bound.
	changed := filepath.Join(dir, "changed.wasm")
	if err := os.WriteFile(changed, withSection(module), 0o600); err != nil { //nolint:gosec // into the test's temporary directory
		t.Fatal(err)
	}
	if _, err := wasm.Open(t.Context(), wasm.Config{Path: changed}); err != nil {
		t.Fatal(err)
	}
	logs := make(messages, 1024)
	l := startLive(t, config, nil, slog.New(logs))
	var stderr syncBuffer
	l.stderr = &stderr
	before := plugin(l.plugins, "denylist")
	url := "http://" + addrOf(t, l.host) + "/hello"

	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- l.serve(ctx, true) }()
	logs.await(t, "watching the file")
	if err := os.WriteFile(path, withSection(module), 0o600); err != nil { //nolint:gosec // the test's temporary file
		t.Fatal(err)
	}
	logs.await(t, "reloaded")
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("serve = %v", err)
	}
	after := plugin(l.plugins, "denylist")
	if after == before || after.Stale() {
		t.Log(stderr.String())
		t.Errorf("the plugin was not replaced by one of the new module: before %p, after %p (stale %v)", before, after, after.Stale())
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-User", "mallory")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("after the reload: %d, want 403 from the new module", resp.StatusCode)
	}
}

func plugin(ps []ply.Plugin, name string) *wasm.Plugin {
	for _, p := range ps {
		if wp, ok := p.(*wasm.Plugin); ok && p.Info().Name == name {
			return wp
		}
	}
	return nil
}
