package cli

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply"
	"github.com/plykit/ply/admin"
)

// The admin page previews a new file against the running host, then
// applies it: the file is written, the host reloads, and the reload is in
// the page's history; the page itself carries over.
func TestAdminReloadsTheRunsFile(t *testing.T) {
	var version atomic.Value
	version.Store("1.0.0")
	page, rl, handler, err := newAdmin("127.0.0.1:0", false, slog.DiscardHandler)
	if err != nil {
		t.Fatal(err)
	}
	// As startLive, with the page beside the file's plugins, as ply run has it.
	a := &app{catalog: stockCatalog(), replaced: map[string]bool{}, server: "httpserver", stdout: io.Discard, stderr: io.Discard, extra: []ply.Plugin{page}}
	for _, name := range []string{"stamp.one", "stamp.extra"} {
		a.catalog[name] = func() ply.Plugin { return &stamper{name: name, version: "1.0.0"} }
	}
	a.catalog["stamp.versioned"] = func() ply.Plugin { return &stamper{name: "stamp.versioned", version: version.Load().(string)} }
	path := filepath.Join(t.TempDir(), "ply.yaml")
	if err := os.WriteFile(path, []byte(loadConfig("a", false)), 0o600); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(handler)
	l, _, err := a.start(t.Context(), path, logger, []ply.Option{ply.WithLogger(logger)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.host.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	rl.set(l)
	client := &http.Client{}
	api := func(method, path, body string, into any) int {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, "http://"+page.Addr().String()+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+page.Token())
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = res.Body.Close() }()
		if into != nil {
			if err := json.NewDecoder(res.Body).Decode(into); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
		}
		return res.StatusCode
	}

	var cfg admin.ConfigView
	if code := api(http.MethodGet, "/api/config", "", &cfg); code != http.StatusOK || cfg.Data != loadConfig("a", false) || cfg.File != l.path {
		t.Fatalf("GET /api/config: %d, %+v; want the run's file", code, cfg)
	}
	var pv admin.Preview
	if code := api(http.MethodPost, "/api/reload/preview", loadConfig("b", false), &pv); code != http.StatusOK {
		t.Fatalf("preview: %d", code)
	}
	want := admin.Preview{Added: []string{"stamp.extra"}, Changed: []string{"requestid", "stamp.one", "stamp.versioned"}, Unchanged: []string{"httpserver"}}
	if diff := cmp.Diff(want, pv, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Diff" }, cmp.Ignore())); diff != "" {
		t.Errorf("preview (-want +got):\n%s", diff)
	}
	if !strings.Contains(pv.Diff, "+  - name: stamp.extra\n") || !strings.Contains(pv.Diff, "-    options: {tag: a}\n") {
		t.Errorf("preview diff lacks the changed lines:\n%s", pv.Diff)
	}
	var bad map[string]string
	if code := api(http.MethodPost, "/api/reload/preview", "plugins:\n  - name: nosuch\n", &bad); code != http.StatusUnprocessableEntity || !strings.Contains(bad["error"], "nosuch") {
		t.Errorf("preview of a bad file: %d %v, want 422 naming the plugin", code, bad)
	}

	var applied admin.Applied
	if code := api(http.MethodPost, "/api/reload", loadConfig("b", false), &applied); code != http.StatusOK || applied.Outcome != ply.ReloadOK {
		t.Fatalf("apply: %d, %+v", code, applied)
	}
	if data, err := os.ReadFile(l.path); err != nil || string(data) != loadConfig("b", false) {
		t.Errorf("the file after apply: %q, %v; want the new configuration", data, err)
	}
	if got := stampOf(t, &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, "http://"+addrOf(t, l.host)+"/hello"); got != "b" {
		t.Errorf("GET /hello answered by configuration %q after apply, want b", got)
	}
	var history []admin.Reload
	api(http.MethodGet, "/api/reloads", "", &history)
	if len(history) != 1 || history[0].Outcome != ply.ReloadOK {
		t.Errorf("reload history %+v, want one ok", history)
	}
	var ov admin.Overview
	api(http.MethodGet, "/api/plugins", "", &ov)
	if !slices.ContainsFunc(ov.Plugins, func(r admin.PluginRow) bool { return r.Name == "admin" && r.State == "ok" }) {
		t.Errorf("the admin page is not in the reloaded host: %+v", ov.Plugins)
	}
	// The page's form: preview with the login cookie and the CSRF token.
	form := url.Values{"csrf": {csrfOf(page)}, "action": {"preview"}, "config": {loadConfig("a", false)}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+page.Addr().String()+"/reload", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cookie", "ply_admin="+page.Token())
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(html), `id="preview"`) || !strings.Contains(string(html), `<span class="d-">-  - name: stamp.extra</span>`) {
		t.Errorf("the reload form's preview: %d, want the diff removing stamp.extra:\n%s", res.StatusCode, html)
	}
	if code := api(http.MethodPost, "/api/reload", "plugins: [", nil); code != http.StatusUnprocessableEntity {
		t.Errorf("apply of a file with a syntax error: %d, want 422", code)
	}
	if data, _ := os.ReadFile(l.path); string(data) != loadConfig("b", false) {
		t.Error("a file with problems was written")
	}
}

// csrfOf reads the CSRF token from the page, as the browser's form has it.
func csrfOf(page *admin.Plugin) string {
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+page.Addr().String()+"/", nil)
	req.Header.Set("Authorization", "Bearer "+page.Token())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer func() { _ = res.Body.Close() }()
	b, _ := io.ReadAll(res.Body)
	_, after, _ := strings.Cut(string(b), `name="csrf-token" content="`)
	tok, _, _ := strings.Cut(after, `"`)
	return tok
}

func TestLineDiff(t *testing.T) {
	for _, tt := range []struct{ a, b, want string }{
		{"x\ny\n", "x\ny\n", " x\n y\n"},
		{"x\ny\n", "x\nz\n", " x\n+z\n-y\n"},
		{"", "a\n", "+a\n"},
		{"a\n", "", "-a\n"},
		{"a\nb\nc\n", "a\nc\nd\n", " a\n-b\n c\n+d\n"},
	} {
		if got := lineDiff(tt.a, tt.b); got != tt.want {
			t.Errorf("lineDiff(%q, %q) = %q, want %q", tt.a, tt.b, got, tt.want)
		}
	}
}
