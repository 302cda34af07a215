package httpserver_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/plytest"
)

// endpointPlugin mounts GET /who with Handle, answering text.
func endpointPlugin(text string) ply.Plugin {
	return ply.Func{Meta: ply.Info{Name: "who", Version: "1.0.0", Requires: []ply.Dependency{{Name: "httpserver"}}},
		OnProvision: func(_ context.Context, s *ply.Setup) error {
			srv, err := ply.Lookup(s, httpserver.Key)
			if err != nil {
				return err
			}
			srv.Handle("GET /who", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, text) }))
			return nil
		}}
}

// A reload that replaces the server hands its listener over when the
// address is the same, and opens a new one when it changed; one that keeps
// the server keeps its listener, and endpoints mounted again replace the
// old ones.
func TestReloadListener(t *testing.T) {
	for _, tt := range []struct {
		name       string
		next       func(old *httpserver.Server) *httpserver.Server // nil: the same server
		samePort   bool
		oldRefuses bool
	}{
		{name: "server kept", samePort: true},
		{name: "options changed", next: func(*httpserver.Server) *httpserver.Server {
			return httpserver.New(httpserver.Options{Addr: "127.0.0.1:0", ReadyPath: "/ready2"})
		}, samePort: true},
		{name: "address changed", next: func(*httpserver.Server) *httpserver.Server {
			return httpserver.New(httpserver.Options{Addr: "localhost:0"}) // another address: a socket of its own
		}, oldRefuses: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httpserver.New(httpserver.Options{Addr: "127.0.0.1:0"})
			h := plytest.New(t, []ply.Plugin{srv, endpointPlugin("one")}, ply.WithLogger(discard()))
			oldURL := "http://" + srv.Addr().String()
			if _, body := get(t, oldURL+"/who"); body != "one" {
				t.Fatalf("before the reload: GET /who = %q, want one", body)
			}
			next := srv
			if tt.next != nil {
				next = tt.next(srv)
			}
			if _, err := h.Reload(t.Context(), ply.Change{Plugins: []ply.Plugin{next, endpointPlugin("two")}}); err != nil {
				t.Fatal(err)
			}
			cur, err := ply.Lookup(h, httpserver.Key)
			if err != nil {
				t.Fatal(err)
			}
			if got := cur.Addr().String() == srv.Addr().String(); got != tt.samePort {
				t.Errorf("after the reload the server listens on %s, before on %s; same = %v, want %v", cur.Addr(), srv.Addr(), got, tt.samePort)
			}
			url := "http://" + cur.Addr().String()
			if code, body := get(t, url+"/who"); code != http.StatusOK || body != "two" {
				t.Errorf("after the reload: GET /who = %d %q, want 200 two", code, body)
			}
			if code, _ := get(t, url+"/healthz"); code != http.StatusOK {
				t.Errorf("after the reload: GET /healthz = %d, want 200", code)
			}
			resp, err := http.DefaultClient.Do(mustRequest(t, oldURL+"/healthz"))
			if err == nil {
				_ = resp.Body.Close()
			}
			if refused := err != nil; refused != tt.oldRefuses {
				t.Errorf("the old address after the reload: err = %v, want refused %v", err, tt.oldRefuses)
			}
		})
	}
}

func mustRequest(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// A request in flight when a reload replaces the server finishes on the
// old server, and the reload waits for it; the next request is served by
// the new one on the same socket.
func TestReloadInFlight(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	slow := func(_ context.Context, c *ply.Call) error {
		once.Do(func() { close(entered) })
		<-release
		_, _ = io.WriteString(c.Response().(http.ResponseWriter), "slow done")
		return nil
	}
	srv := httpserver.New(httpserver.Options{Addr: "127.0.0.1:0"})
	h := plytest.New(t, []ply.Plugin{srv}, ply.WithLogger(discard()), ply.WithModules(ply.Module{Name: "m",
		Handlers: []ply.Handler{{Kind: ply.KindHTTP, Name: "GET /slow", Func: slow}}}))
	url := "http://" + srv.Addr().String()

	type answer struct {
		code int
		body string
		err  error
	}
	inFlight := make(chan answer, 1)
	go func() {
		resp, err := http.DefaultClient.Do(mustRequest(t, url+"/slow"))
		if err != nil {
			inFlight <- answer{err: err}
			return
		}
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		inFlight <- answer{resp.StatusCode, string(b), err}
	}()
	<-entered
	reloaded := make(chan error, 1)
	next := httpserver.New(httpserver.Options{Addr: "127.0.0.1:0", ReadyPath: "/ready2"})
	started := make(chan struct{})
	up := ply.Func{Meta: ply.Info{Name: "up", Version: "1.0.0", Requires: []ply.Dependency{{Name: "httpserver"}}},
		OnAfterStart: func(context.Context) error { close(started); return nil }}
	go func() {
		_, err := h.Reload(context.WithoutCancel(t.Context()), ply.Change{Plugins: []ply.Plugin{next, up}})
		reloaded <- err
	}()
	// Once the new server started, it serves new connections on the same
	// socket, while the old one still holds the request in flight.
	<-started
	if code, _ := get(t, url+"/ready2"); code != http.StatusOK {
		t.Errorf("GET /ready2 during the drain = %d, want 200 from the new server", code)
	}
	close(release)
	if a := <-inFlight; a.err != nil || a.code != http.StatusOK || a.body != "slow done" {
		t.Errorf("the request in flight: %d %q %v, want 200 \"slow done\"", a.code, a.body, a.err)
	}
	if err := <-reloaded; err != nil {
		t.Fatal(err)
	}
	if cur, _ := ply.Lookup(h, httpserver.Key); cur != next {
		t.Errorf("the server after the reload is %p, want the new one %p", cur, next)
	}
}

// A reload that fails after the new server started gives the socket back
// to the old one.
func TestReloadRollbackKeepsListener(t *testing.T) {
	srv := httpserver.New(httpserver.Options{Addr: "127.0.0.1:0"})
	h := plytest.New(t, []ply.Plugin{srv}, ply.WithLogger(discard()))
	url := "http://" + srv.Addr().String()
	errBoom := errors.New("boom")
	failing := ply.Func{Meta: ply.Info{Name: "late", Version: "1.0.0", Requires: []ply.Dependency{{Name: "httpserver"}}},
		OnAfterStart: func(context.Context) error { return errBoom }}
	next := httpserver.New(httpserver.Options{Addr: "127.0.0.1:0", ReadyPath: "/ready2"})
	_, err := h.Reload(t.Context(), ply.Change{Plugins: []ply.Plugin{next, failing}})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Reload = %v, want %v", err, errBoom)
	}
	for i := range 3 { // new connections each time
		req := mustRequest(t, url+"/readyz")
		req.Close = true
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("request %d after the rollback: %v", i, err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("request %d after the rollback: GET /readyz = %d, want 200 from the old server", i, resp.StatusCode)
		}
	}
	if code, _ := get(t, url+"/ready2"); code != http.StatusNotFound {
		t.Errorf("GET /ready2 after the rollback = %d, want 404: the new server is gone", code)
	}
}

// A plugin added by a reload that keeps the server mounts its endpoint on
// the running server at once.
func TestReloadHandleAfterBind(t *testing.T) {
	srv := httpserver.New(httpserver.Options{Addr: "127.0.0.1:0"})
	h := plytest.New(t, []ply.Plugin{srv}, ply.WithLogger(discard()))
	url := "http://" + srv.Addr().String()
	if code, _ := get(t, url+"/who"); code != http.StatusNotFound {
		t.Fatalf("GET /who before the reload = %d, want 404", code)
	}
	if _, err := h.Reload(t.Context(), ply.Change{Plugins: []ply.Plugin{srv, endpointPlugin("added")}}); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, url+"/who"); code != http.StatusOK || body != "added" {
		t.Errorf("GET /who after the reload = %d %q, want 200 added", code, body)
	}
	if !slices.Contains(srv.Routes(), "GET /who") {
		t.Errorf("Routes() = %q, want GET /who among them", srv.Routes())
	}
}
