package config_test

import (
	"crypto/rand"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"aead.dev/minisign"

	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/internal/config"
	"github.com/plykit/ply/internal/wasmtest"
	"github.com/plykit/ply/market/lock"
	"github.com/plykit/ply/wasm"
)

// A wasm plugin listed without a path loads from the artifact cache as
// the lockfile pins it, hash and signature checked; any mismatch is
// refused at the plugin's line, naming it.
func TestLockedWasmPlugin(t *testing.T) {
	module, err := wasmtest.Build("../../examples/wasm/denylist")
	if err != nil {
		t.Fatal(err)
	}
	artifact, err := os.ReadFile(module) //nolint:gosec // the test's own build
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, _ := minisign.GenerateKey(rand.Reader)
	otherPub, otherPriv, _ := minisign.GenerateKey(rand.Reader)
	good := lock.Entry{Name: "denylist", Version: "1.0.0", SHA256: lock.Hash(artifact), Key: pub.String(),
		Signature: lock.Sign(priv, "denylist", "1.0.0", artifact), Source: "https://registry.example"}
	wrongKey := good
	wrongKey.Key, wrongKey.Signature = otherPub.String(), lock.Sign(otherPriv, "denylist", "1.0.0", []byte("other"))
	file := "lock: ply.lock\ncache: cache\nlisten: 127.0.0.1:0\nplugins:\n  - name: denylist\n    runtime: wasm\n    options: {deny: [mallory]}\n" +
		"modules:\n  - name: site\n    routes:\n      - route: GET /hello\n        static: {text: hi}\n"
	for _, tt := range []struct {
		name   string
		lock   *lock.Lock // nil: no lockfile
		tamper bool
		want   string // a problem at the plugin's line; empty: the host serves
	}{
		{name: "verified", lock: &lock.Lock{Plugins: []lock.Entry{good}}},
		{name: "tampered", lock: &lock.Lock{Plugins: []lock.Entry{good}}, tamper: true,
			want: "plugin denylist@1.0.0: artifact does not match its sha256"},
		{name: "wrong key", lock: &lock.Lock{Plugins: []lock.Entry{wrongKey}},
			want: "plugin denylist@1.0.0: bad signature: the signature does not match the artifact's bytes"},
		{name: "not locked", lock: &lock.Lock{}, want: "plugin denylist is not in the lockfile"},
		{name: "no lockfile", want: "plugin denylist: a wasm plugin without a path is loaded from the lockfile or a dir source, and there is no "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cache := lock.Cache{Dir: filepath.Join(dir, "cache")}
			sum, err := cache.Put(artifact)
			if err != nil {
				t.Fatal(err)
			}
			if tt.tamper {
				if err := os.WriteFile(cache.Path(sum), append(artifact, 0), 0o600); err != nil { //nolint:gosec // G703: the test's own temporary cache
					t.Fatal(err)
				}
			}
			if tt.lock != nil {
				if err := lock.Write(filepath.Join(dir, lock.Name), tt.lock); err != nil {
					t.Fatal(err)
				}
			}
			var srv *httpserver.Server
			h, err := config.Load(filepath.Join(dir, "ply.yaml"), []byte(file), catalog(&srv), "httpserver")
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Load() error = %v, want %q", err, tt.want)
				}
				if !strings.Contains(err.Error(), "ply.yaml:5:") {
					t.Errorf("Load() error = %v, want it at the plugin's line 5", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			host, err := ply.New(h.Plugins, append(h.Options, ply.WithLogger(discard))...)
			if err != nil {
				t.Fatal(err)
			}
			if err := host.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = host.Stop(t.Context()) })
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+srv.Addr().String()+"/hello", nil)
			req.Header.Set("X-User", "mallory")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("GET /hello as mallory = %d, want 403 from the locked denylist", resp.StatusCode)
			}
		})
	}
}

// A wasm plugin without a path that the lockfile does not pin is the
// highest version in the first dir source that has it.
func TestDirSource(t *testing.T) {
	module, err := wasmtest.Build("../../examples/wasm/denylist")
	if err != nil {
		t.Fatal(err)
	}
	artifact, err := os.ReadFile(module) //nolint:gosec // the test's own build
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, data := range map[string][]byte{"empty/.keep": nil, "mods/denylist.wasm": artifact, "mods/junk.wasm": []byte("junk")} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	file := "sources: [{dir: empty}, {dir: mods}]\nlisten: 127.0.0.1:0\nplugins:\n  - name: denylist\n    runtime: wasm\n    options: {deny: [mallory]}\n"
	var srv *httpserver.Server
	h, err := config.Load(filepath.Join(dir, "ply.yaml"), []byte(file), catalog(&srv), "httpserver")
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(h.Plugins, func(p ply.Plugin) bool { return p.Info().Name == "denylist" })
	if wp, ok := h.Plugins[max(i, 0)].(*wasm.Plugin); i < 0 || !ok || wp.Path() != filepath.Join(dir, "mods", "denylist.wasm") {
		t.Fatalf("plugins = %v, want denylist from the dir source", h.Plugins)
	}
	file = strings.Replace(file, "{dir: mods}", "{dir: other}", 1)
	_, err = config.Load(filepath.Join(dir, "ply.yaml"), []byte(file), catalog(&srv), "httpserver")
	if err == nil || !strings.Contains(err.Error(), "nor in the dir sources "+filepath.Join(dir, "empty")+", "+filepath.Join(dir, "other")) {
		t.Errorf("Load() without the module = %v, want it to name the dir sources", err)
	}
}
