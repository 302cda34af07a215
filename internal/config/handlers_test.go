package config_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/internal/config"
)

// syncBuffer is a buffer the server's goroutines and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// start loads file, starts its host on a free port with logger, and
// returns the base URL; the host stops when the test ends.
func start(t *testing.T, file string, logger *slog.Logger) string {
	t.Helper()
	var srv *httpserver.Server
	h, err := config.Load("ply.yaml", []byte(file), catalog(&srv), "httpserver")
	if err != nil {
		t.Fatal(err)
	}
	host, err := ply.New(h.Plugins, append(h.Options, ply.WithLogger(logger))...)
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = host.Stop(context.Background()) })
	return "http://" + srv.Addr().String()
}

// send makes a request on a connection of its own and returns the status
// and the body.
func send(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// A client's X-Forwarded-* headers and Host never reach the upstream,
// unless the connection comes from a trusted proxy.
func TestProxyForwardedHeaders(t *testing.T) {
	seen := make(chan http.Header, 1)
	upstream := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		h.Set("Host", r.Host)
		seen <- h
	}))
	defer upstream.Close()
	upstreamHost := strings.TrimPrefix(upstream.URL, "http://")
	for _, tt := range []struct {
		name, trusted string
		want          map[string]string
	}{
		{name: "untrusted client", want: map[string]string{
			"Host": upstreamHost, "X-Forwarded-Host": "{self}", "X-Forwarded-Proto": "http", "X-Forwarded-For": "127.0.0.1", "Forwarded": ""}},
		{name: "other proxy trusted", trusted: "[10.0.0.0/8]", want: map[string]string{
			"Host": upstreamHost, "X-Forwarded-Host": "{self}", "X-Forwarded-Proto": "http", "X-Forwarded-For": "127.0.0.1"}},
		{name: "trusted proxy", trusted: "[10.0.0.0/8, 127.0.0.1]", want: map[string]string{
			"Host": upstreamHost, "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9, 127.0.0.1",
			"Forwarded": "for=203.0.113.9;host=evil.example"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			proxy := "{url: " + upstream.URL + "}"
			if tt.trusted != "" {
				proxy = "{url: " + upstream.URL + ", trustedProxies: " + tt.trusted + "}"
			}
			base := start(t, "listen: 127.0.0.1:0\nmodules:\n  - name: m\n    routes:\n      - route: GET /page\n        proxy: "+proxy+"\n", discard)
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/page", nil)
			req.Header.Set("X-Forwarded-Host", "evil.example")
			req.Header.Set("X-Forwarded-Proto", "https")
			req.Header.Set("X-Forwarded-For", "203.0.113.9")
			req.Header.Set("Forwarded", "for=203.0.113.9;host=evil.example")
			if code, body := send(t, req); code != http.StatusOK {
				t.Fatalf("GET /page = %d %q", code, body)
			}
			got := <-seen
			for k, want := range tt.want {
				want = strings.ReplaceAll(want, "{self}", strings.TrimPrefix(base, "http://"))
				if got.Get(k) != want {
					t.Errorf("upstream got %s: %q, want %q", k, got.Get(k), want)
				}
			}
		})
	}
}

func TestProxyTrustedProxiesChecked(t *testing.T) {
	var srv *httpserver.Server
	_, err := config.Load("ply.yaml", []byte("modules:\n  - name: m\n    routes:\n      - route: GET /p\n        proxy: {url: 'http://127.0.0.1:1', trustedProxies: [10.0.0.0/33]}\n"), catalog(&srv), "httpserver")
	if err == nil || !strings.Contains(err.Error(), `modules[0].routes[0]: proxy trustedProxies[0]: "10.0.0.0/33" is not a CIDR`) {
		t.Errorf("Load with a bad CIDR = %v, want an error naming the route and the field", err)
	}
}

// A body over the server's limit is answered 413 on every kind of route,
// and the failure is logged once, with slog, not with the standard log.
func TestBodyOverLimit(t *testing.T) {
	var std syncBuffer
	log.SetOutput(&std)
	t.Cleanup(func() { log.SetOutput(os.Stderr) })
	var logs syncBuffer
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "upstream read it all")
	}))
	defer upstream.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("home"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := start(t, `plugins:
  - name: httpserver
    options: {addr: 127.0.0.1:0, maxBodyBytes: 16}
modules:
  - name: m
    routes:
      - route: POST /proxy
        proxy: {url: `+upstream.URL+`}
      - route: POST /static
        static: {text: ok}
      - route: /files/
        files: {dir: `+dir+`}
`, slog.New(slog.NewJSONHandler(&logs, nil)))
	big := strings.Repeat("x", 4096)
	for _, path := range []string{"/proxy", "/static", "/files/"} {
		for _, chunked := range []bool{false, true} {
			var body io.Reader = strings.NewReader(big)
			if chunked {
				body = io.MultiReader(body) // no length: sent chunked
			}
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+path, body)
			if code, got := send(t, req); code != http.StatusRequestEntityTooLarge {
				t.Errorf("POST %s with 4 KiB (chunked %v) = %d %q, want 413", path, chunked, code, got)
			}
		}
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/proxy", strings.NewReader("small"))
	if code, got := send(t, req); code != http.StatusOK {
		t.Errorf("POST /proxy within the limit = %d %q, want 200", code, got)
	}
	if std.String() != "" {
		t.Errorf("the standard log got:\n%s", std.String())
	}
	n := 0
	for l := range strings.Lines(logs.String()) {
		var rec map[string]any
		if json.Unmarshal([]byte(l), &rec) == nil && rec["msg"] == "request failed" && rec["status"] == float64(413) {
			n++
		}
	}
	if n != 6 {
		t.Errorf("%d records of a failed request with status 413, want 6; log:\n%s", n, logs.String())
	}
}

// A files route serves only what is in its directory: no symbolic link
// out of it, no listing and no dotfiles unless asked.
func TestFilesGuarded(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(outside, []byte("PRIVATE KEY"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, content := range map[string]string{
		"a.txt": "file a", ".env": "SECRET=1", ".git/config": "[core]", "sub/b.txt": "file b", "docs/index.html": "docs home",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(dir, "key")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.txt", filepath.Join(dir, "link.txt")); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, opts string
		want       map[string]string // path -> "status body-substring"
	}{
		{name: "defaults", want: map[string]string{
			"/f/a.txt": "200 file a", "/f/link.txt": "200 file a", "/f/docs/": "200 docs home",
			"/f/key": "404", "/f/.env": "404", "/f/.git/config": "404", "/f/sub/": "404", "/f/": "404", "/f/sub": "404",
		}},
		{name: "list and dotfiles", opts: ", list: true, dotfiles: true", want: map[string]string{
			"/f/key": "404", "/f/.env": "200 SECRET", "/f/sub/": "200 b.txt", "/f/": "200 .env",
		}},
		{name: "list without dotfiles", opts: ", list: true", want: map[string]string{
			"/f/key": "404", "/f/.env": "404", "/f/sub/": "200 b.txt", "/f/": "200 sub/",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base := start(t, "listen: 127.0.0.1:0\nmodules:\n  - name: m\n    routes:\n      - route: GET /f/\n        files: {dir: "+dir+tt.opts+"}\n", discard)
			for path, want := range tt.want {
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+path, nil)
				code, body := send(t, req)
				wantCode, wantBody, _ := strings.Cut(want, " ")
				if strconv.Itoa(code) != wantCode || !strings.Contains(body, wantBody) {
					t.Errorf("GET %s = %d %q, want %s", path, code, body, want)
				}
			}
			if tt.name == "list without dotfiles" {
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/f/", nil)
				if _, body := send(t, req); strings.Contains(body, ".env") || strings.Contains(body, ".git") {
					t.Errorf("listing shows dotfiles:\n%s", body)
				}
			}
		})
	}
}
