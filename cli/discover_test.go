package cli

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/plykit/ply/internal/wasmtest"
)

// ply run --watch finds a module dropped into a dir source and reloads the
// host onto it, without a restart: greeter answers with the tag of the
// tagger that ran, 1.0.0 and then the dropped-in 1.1.0.
func TestWatchDirSource(t *testing.T) {
	mods := map[string][]byte{}
	for _, g := range []string{"tagger", "tagger11", "greeter"} {
		path, err := wasmtest.Build(filepath.Join("..", "market", "testdata", g))
		if err != nil {
			t.Fatal(err)
		}
		if mods[g], err = os.ReadFile(path); err != nil { //nolint:gosec // the test's own build
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	for name, g := range map[string]string{"tagger.wasm": "tagger", "greeter.wasm": "greeter"} {
		if err := os.WriteFile(filepath.Join(dir, name), mods[g], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	config := "sources: [{dir: " + dir + "}]\nlisten: 127.0.0.1:0\nplugins:\n  - name: tagger\n    runtime: wasm\n  - name: greeter\n    runtime: wasm\n" +
		"modules:\n  - name: site\n    routes:\n      - route: GET /hello\n        static: {text: unreached}\n"
	var version atomic.Value
	version.Store("1.0.0")
	logs := make(messages, 1024)
	l := startLive(t, config, &version, slog.New(logs))
	url := "http://" + addrOf(t, l.host) + "/hello"
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if got := stampOf(t, client, url); got != "hello from greeter, tagged by tagger@1.0.0\n" {
		t.Fatalf("GET /hello = %q before the drop", got)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- l.serve(ctx, true) }()
	logs.await(t, "watching the file")
	tmp := filepath.Join(dir, ".tagger-1.1.wasm.part") // written aside, then renamed in, as a copy tool does
	if err := os.WriteFile(tmp, mods["tagger11"], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "tagger-1.1.wasm")); err != nil {
		t.Fatal(err)
	}
	logs.await(t, "reloaded")
	if got := stampOf(t, client, url); got != "hello from greeter, tagged by tagger@1.1.0\n" {
		t.Errorf("GET /hello = %q after tagger 1.1.0 was dropped in, want it tagged by 1.1.0", got)
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("serve = %v", err)
	}
}
