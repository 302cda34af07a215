package config_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/plykit/ply"
	"github.com/plykit/ply/backbone"
	"github.com/plykit/ply/backbone/keys"
	"github.com/plykit/ply/eventbus"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/internal/config"
	"github.com/plykit/ply/internal/wasmtest"
	"github.com/plykit/ply/kv"
	"github.com/plykit/ply/option"
	"github.com/plykit/ply/wasm"
)

// guest builds the guest in dir (cached) and copies it into the test's
// directory as name.
func guest(t *testing.T, dir, into, name string) {
	t.Helper()
	path, err := wasmtest.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path) //nolint:gosec // the guest the test built
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(into, name), b, 0o600); err != nil { //nolint:gosec // into the test's temporary directory
		t.Fatal(err)
	}
}

func TestLoadWasm(t *testing.T) {
	dir := t.TempDir()
	guest(t, "../../examples/wasm/denylist", dir, "denylist.wasm")
	file := filepath.Join(dir, "ply.yaml")
	data := []byte(`plugins:
  - name: denylist
    runtime: wasm
    path: denylist.wasm
    limits: {deadline: 1s, pool: 2}
    options:
      deny: [mallory]
modules:
  - name: site
    routes:
      - route: GET /hello
        static: {text: hello}
`)
	var srv *httpserver.Server
	cfg, err := config.Load(file, data, catalog(&srv), "")
	if err != nil {
		t.Fatal(err)
	}
	h, err := ply.New(cfg.Plugins, append(cfg.Options, ply.WithLogger(discard))...)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Stop(context.WithoutCancel(t.Context())) }()
	if p, ok := cfg.Plugins[0].(*wasm.Plugin); !ok || p.Runtime() != "wasm" || p.Info().Name != "denylist" {
		t.Fatalf("plugin = %#v, want the wasm plugin denylist", cfg.Plugins[0])
	}
	ch, err := h.Chain("site", "GET /hello")
	if err != nil {
		t.Fatal(err)
	}
	for who, want := range map[string]int{"mallory": http.StatusForbidden, "alice": http.StatusOK} {
		r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/hello", nil)
		r.Header.Set("X-User", who)
		w := httptest.NewRecorder()
		_, err := ch.Serve(t.Context(), r, w)
		if err != nil || w.Code != want {
			t.Errorf("%s: %d, %v; want %d", who, w.Code, err, want)
		}
	}
}

// TestLoadWasmProblems: every problem of a wasm entry is an option.Error
// at its line, naming the plugin and the fix.
func TestLoadWasmProblems(t *testing.T) {
	dir := t.TempDir()
	guest(t, "../../wasm/testdata/hostile", dir, "hostile.wasm")
	guest(t, "../../examples/wasm/denylist", dir, "denylist.wasm")
	if err := os.WriteFile(filepath.Join(dir, "garbage.wasm"), []byte("not wasm"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, entry string
		want        []string
	}{
		{name: "ungranted capability at grants", entry: `
  - name: hostile
    runtime: wasm
    path: hostile.wasm
    grants: {log: true}`, want: []string{"ply.yaml:6:13:", "ply.kv_get, of capability kv, which is not granted", `add "kv: true"`,
			"ply.http_fetch, of capability http", "list the allowed hosts under the plugin's grants.http"}},
		{name: "ungranted capability without grants", entry: `
  - name: hostile
    runtime: wasm
    path: hostile.wasm`, want: []string{"ply.yaml:3:11:", "of capability", "not granted"}},
		{name: "garbage module", entry: `
  - name: g
    runtime: wasm
    path: garbage.wasm`, want: []string{"ply.yaml:5:11:", "plugin g:", "is not a valid WebAssembly module"}},
		{name: "no path", entry: `
  - name: g
    runtime: wasm`, want: []string{"ply.yaml:3:11:", "a wasm plugin without a path is loaded from the lockfile or a dir source", "or give its path"}},
		{name: "path without runtime", entry: `
  - name: plain
    path: hostile.wasm`, want: []string{"ply.yaml:3:5:", "add runtime: wasm"}},
		{name: "name is not the manifest's", entry: `
  - name: other
    runtime: wasm
    path: denylist.wasm`, want: []string{"ply.yaml:3:11:", `is the plugin "denylist": name the entry "denylist"`}},
		{name: "unknown runtime", entry: `
  - name: plain
    runtime: lua`, want: []string{"ply.yaml:4:14:", "runtime"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte("\nplugins:" + tt.entry + "\n")
			var srv *httpserver.Server
			_, err := config.Load(filepath.Join(dir, "ply.yaml"), data, catalog(&srv), "")
			if _, ok := errors.AsType[*option.Error](err); !ok {
				t.Fatalf("err = %v, want an *option.Error", err)
			}
			msg := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
}

// TestLoadWasmEvents: a wasm plugin granted events publishes on the host's
// event bus, to the subjects granted only.
func TestLoadWasmEvents(t *testing.T) {
	dir := t.TempDir()
	guest(t, "../../wasm/testdata/hostile", dir, "hostile.wasm")
	file := filepath.Join(dir, "ply.yaml")
	data := []byte(`plugins:
  - name: events
  - name: hostile
    runtime: wasm
    path: hostile.wasm
    grants: {log: true, kv: true, clock: true, random: true, http: [example.invalid], events: [hostile.>]}
    limits: {deadline: 1s}
modules:
  - name: site
    routes:
      - route: GET /hello
        static: {text: hello}
`)
	var srv *httpserver.Server
	cat := catalog(&srv)
	cat["events"] = func() ply.Plugin { return eventbus.NewPlugin() }
	h := startLoaded(t, file, data, cat, "")
	bus, err := ply.Lookup(h, eventbus.Key)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	sub, err := eventbus.Subscribe(bus, eventbus.NewTopic[json.RawMessage]("hostile.greeting"), func(_ context.Context, ev json.RawMessage) error {
		got <- string(ev)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Drain(context.WithoutCancel(t.Context())) }()
	ch, err := h.Chain("site", "GET /hello")
	if err != nil {
		t.Fatal(err)
	}
	for subject, wantErr := range map[string]bool{"hostile.greeting": false, "other.greeting": true} {
		r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/hello", nil)
		r.Header.Set("X-Mode", "caps")
		r.Header.Set("X-Subject", subject)
		if _, err := ch.Serve(t.Context(), r, httptest.NewRecorder()); (err != nil) != wantErr {
			t.Errorf("publish to %s: err = %v, want error %v", subject, err, wantErr)
		}
	}
	select { // Publish delivers to synchronous subscribers before it returns
	case ev := <-got:
		if ev != `"hello"` {
			t.Errorf("event %s, want \"hello\"", ev)
		}
	default:
		t.Error("no event on hostile.greeting")
	}
}

// TestLoadWasmKVOnBackbone: with the backbone, a wasm plugin's keys are in
// a JetStream bucket of its own; on a host with tenants, each tenant's
// calls count in that tenant's bucket.
func TestLoadWasmKVOnBackbone(t *testing.T) {
	for _, tt := range []struct {
		name    string
		tenants string
		calls   []string          // the tenant of each call, "" for none
		buckets map[string]string // namespace -> the count it holds
	}{
		{name: "no tenants", calls: []string{"", ""}, buckets: map[string]string{"wasm/hostile": "2"}},
		{name: "tenants", tenants: "tenants:\n  from: {header: X-Tenant}\n  list: [{name: acme}, {name: globex}]\n",
			calls: []string{"acme", "globex", "acme"}, buckets: map[string]string{"acme/wasm/hostile": "2", "globex/wasm/hostile": "1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			guest(t, "../../wasm/testdata/hostile", dir, "hostile.wasm")
			file := filepath.Join(dir, "ply.yaml")
			data := []byte(`plugins:
  - name: backbone
    options: {dataDir: ` + filepath.Join(dir, "nats") + `}
  - name: events
  - name: hostile
    runtime: wasm
    path: hostile.wasm
    grants: {log: true, kv: true, clock: true, random: true, http: [example.invalid], events: [hostile.>]}
    limits: {deadline: 1s}
` + tt.tenants + `modules:
  - name: site
    routes:
      - route: GET /hello
        static: {text: hello}
`)
			var srv *httpserver.Server
			cat := catalog(&srv)
			cat["events"] = func() ply.Plugin { return eventbus.NewPlugin() }
			cat["backbone"] = func() ply.Plugin { return backbone.New(backbone.Options{}) }
			h := startLoaded(t, file, data, cat, "")
			ch, err := h.Chain("site", "GET /hello")
			if err != nil {
				t.Fatal(err)
			}
			counts := map[string]int{}
			for i, tenant := range tt.calls {
				r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/hello", nil)
				r.Header.Set("X-Mode", "kv")
				if tenant != "" {
					r.Header.Set("X-Tenant", tenant)
				}
				counts[tenant]++
				w := httptest.NewRecorder()
				if _, err := ch.Serve(t.Context(), r, w); err != nil || w.Header().Get("X-Count") != strconv.Itoa(counts[tenant]) {
					t.Fatalf("call %d (tenant %q): X-Count %q, %v; want %d", i, tenant, w.Header().Get("X-Count"), err, counts[tenant])
				}
			}
			js, err := ply.Lookup(h, keys.JetStream)
			if err != nil {
				t.Fatal(err)
			}
			for ns, want := range tt.buckets {
				store, err := kv.New(t.Context(), js, ns)
				if err != nil {
					t.Fatal(err)
				}
				if e, err := store.Get(t.Context(), "hostile/count"); err != nil || string(e.Value) != want {
					t.Errorf("bucket %s holds %q, %v; want %s", ns, e.Value, err, want)
				}
			}
		})
	}
}
