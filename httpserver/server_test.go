package httpserver_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/plytest"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }() // read to the end: a close error says nothing more
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServer(t *testing.T) {
	var health error
	db := ply.Func{Meta: ply.Info{Name: "db", Version: "1.0.0"}, OnHealth: func(context.Context) error { return health }}
	srv := httpserver.New(httpserver.Options{Addr: "127.0.0.1:0", MaxBodyBytes: 8})
	var afterStart string
	probe := ply.Func{Meta: ply.Info{Name: "probe", Version: "1.0.0"}, OnAfterStart: func(context.Context) error {
		code, _ := get(t, "http://"+srv.Addr().String()+"/healthz")
		afterStart = fmt.Sprint(code)
		return nil
	}}
	hello := func(_ context.Context, c *ply.Call) error {
		r, w := c.Request().(*http.Request), c.Response().(http.ResponseWriter)
		if r.Method == http.MethodPost {
			if _, err := io.ReadAll(r.Body); err != nil {
				http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
				return nil
			}
		}
		_, _ = fmt.Fprintf(w, "hello %s", r.PathValue("name"))
		return nil
	}
	plytest.New(t, []ply.Plugin{srv, db, probe}, ply.WithLogger(discard()), ply.WithHealthCache(0), ply.WithModules(ply.Module{
		Name: "greet", Prefix: "/api/v1", Handlers: []ply.Handler{
			{Kind: ply.KindHTTP, Name: "GET /hello/{name}", Func: hello},
			{Kind: ply.KindHTTP, Name: "POST /echo", Func: hello},
			{Kind: ply.KindRPC, Name: "not-http", Func: hello},
		}}))
	base := "http://" + srv.Addr().String()

	if afterStart != "200" {
		t.Errorf("AfterStart saw /healthz answer %q, want 200: the listener must accept by then", afterStart)
	}
	if got := strings.Join(srv.Routes(), ", "); got != "GET /api/v1/hello/{name}, POST /api/v1/echo" {
		t.Errorf("routes = %s", got)
	}
	for _, tt := range []struct {
		name, path string
		health     error
		wantCode   int
		wantBody   string
	}{
		{name: "route under the module prefix", path: "/api/v1/hello/ada", wantCode: 200, wantBody: "hello ada"},
		{name: "unknown route", path: "/hello/ada", wantCode: 404},
		{name: "live", path: "/healthz", wantCode: 200, wantBody: "ok\n"},
		{name: "ready", path: "/readyz", wantCode: 200, wantBody: "ready\n"},
		{name: "not ready keeps the reason to itself", path: "/readyz", health: errors.New("connection refused"), wantCode: 503,
			wantBody: "not ready\n"},
		{name: "degraded is still ready", path: "/readyz", health: errors.Join(ply.ErrDegraded, errors.New("replica lag")), wantCode: 200, wantBody: "ready\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			health = tt.health
			code, body := get(t, base+tt.path)
			if code != tt.wantCode || (tt.wantBody != "" && body != tt.wantBody) {
				t.Errorf("GET %s = %d %q, want %d %q", tt.path, code, body, tt.wantCode, tt.wantBody)
			}
		})
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/api/v1/echo", strings.NewReader("more than eight bytes"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close() // only the status matters
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("POST over the body limit = %d, want 413", resp.StatusCode)
	}
}

func TestGracefulShutdown(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	slow := func(_ context.Context, c *ply.Call) error {
		close(entered)
		<-release
		_, _ = io.WriteString(c.Response().(http.ResponseWriter), "finished")
		return nil
	}
	srv := httpserver.New(httpserver.Options{Addr: "127.0.0.1:0"})
	h, err := ply.New([]ply.Plugin{srv}, ply.WithLogger(discard()), ply.WithModules(ply.Module{Name: "m", Handlers: []ply.Handler{
		{Kind: ply.KindHTTP, Name: "GET /slow", Func: slow}}}))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	result := make(chan string)
	go func() {
		_, body := get(t, "http://"+srv.Addr().String()+"/slow")
		result <- body
	}()
	<-entered
	stopped := make(chan error)
	go func() { stopped <- h.Stop(context.Background()) }()
	close(release)
	if body := <-result; body != "finished" {
		t.Errorf("in-flight request got %q, want it to finish", body)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Stop() = %v", err)
	}
}

func TestBadPattern(t *testing.T) {
	h, _ := ply.New([]ply.Plugin{httpserver.New(httpserver.Options{Addr: "127.0.0.1:0"})}, ply.WithLogger(discard()),
		ply.WithModules(ply.Module{Name: "m", Handlers: []ply.Handler{{Kind: ply.KindHTTP, Name: "GET /a/{", Func: func(context.Context, *ply.Call) error { return nil }}}}))
	err := h.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), `bind httpserver@0.1.0: module m, handler GET /a/{: pattern "GET /a/{"`) {
		t.Errorf("Start() = %v, want a bind error naming the handler", err)
	}
}
