package stock_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"

	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/middleware"
	"github.com/plykit/ply/option"
	"github.com/plykit/ply/plytest"
	"github.com/plykit/ply/stock"
)

// testHost is a started host with an HTTP server on a free port.
type testHost struct {
	*ply.Host
	base   string
	client *http.Client
}

// serve starts a host with the HTTP server, plugins and one module of
// handlers; plytest stops it when the test ends.
func serve(t *testing.T, plugins []ply.Plugin, handlers []ply.Handler, opts ...ply.Option) *testHost {
	t.Helper()
	return serveWith(t, httpserver.New(httpserver.Options{Addr: "127.0.0.1:0"}), plugins, handlers, opts...)
}

// serveWith is serve with the server given, for tests that reload the host
// and must name the server among the plugins that carry over.
func serveWith(t *testing.T, srv *httpserver.Server, plugins []ply.Plugin, handlers []ply.Handler, opts ...ply.Option) *testHost {
	t.Helper()
	opts = append([]ply.Option{ply.WithModules(ply.Module{Name: "app", Handlers: handlers})}, opts...)
	h := plytest.New(t, append([]ply.Plugin{srv}, plugins...), opts...)
	// No keep-alives: no client connection outlives a request, for goleak.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	return &testHost{Host: h, base: "http://" + srv.Addr().String(), client: client}
}

// reply is a response whose body was read and closed: what a test asserts
// on besides the body.
type reply struct {
	StatusCode int
	Header     http.Header
}

// do sends a request and returns the response with its body read.
func (h *testHost) do(t *testing.T, method, path string, header http.Header) (reply, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, h.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }() // read to the end: a close error says nothing more
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{StatusCode: res.StatusCode, Header: res.Header}, string(body)
}

func (h *testHost) get(t *testing.T, path string) (reply, string) {
	t.Helper()
	return h.do(t, http.MethodGet, path, nil)
}

// route is an HTTP handler written as net/http code.
func route(name string, f http.HandlerFunc) ply.Handler {
	return ply.Handler{Kind: ply.KindHTTP, Name: name, Func: func(_ context.Context, c *ply.Call) error {
		f(c.Response().(http.ResponseWriter), c.Request().(*http.Request))
		return nil
	}}
}

func hello(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }

// logBuffer is a buffer for a slog handler, safe for the server's
// goroutines and the test's.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() ply.Option {
	return ply.WithLogger(slog.New(slog.NewJSONHandler(b, nil)))
}

func TestRecover(t *testing.T) {
	var logs logBuffer
	boom := ply.Func{
		Meta: ply.Info{Name: "boom", Version: "1.0.0", Priority: ply.Business, Kinds: []ply.Kind{ply.KindHTTP}},
		OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
			return ply.Wrap{Layer: func(ctx context.Context, c *ply.Call, next ply.Next) error {
				if c.Request().(*http.Request).URL.Path == "/layer" {
					panic("layer down")
				}
				return next.Run(ctx)
			}}, nil
		},
	}
	h := serve(t, []ply.Plugin{stock.NewRecover(middleware.RecoverOptions{}), boom},
		[]ply.Handler{
			route("GET /panic", func(http.ResponseWriter, *http.Request) { panic("boom") }),
			route("GET /layer", hello),
			route("GET /late", func(w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, "partial")
				panic("late")
			}),
		}, logs.logger())
	for _, tt := range []struct{ path, at string }{
		{"/panic", `"at":"handler app/GET /panic"`},
		{"/layer", `"at":"layer boom@1.0.0"`},
	} {
		res, body := h.get(t, tt.path)
		if res.StatusCode != http.StatusInternalServerError || res.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("GET %s: status %d, %s %q; want 500 with a problem body", tt.path, res.StatusCode, res.Header.Get("Content-Type"), body)
		}
		if !strings.Contains(logs.String(), tt.at) {
			t.Errorf("GET %s: log does not attribute the panic (%s):\n%s", tt.path, tt.at, logs.String())
		}
	}
	// A panic after the response began aborts it: the client gets an error,
	// not a short body that looks whole.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, h.base+"/late", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := h.client.Do(req); err == nil {
		_, err = io.ReadAll(res.Body)
		_ = res.Body.Close()
		if err == nil {
			t.Errorf("GET /late: read the whole body, want the response aborted")
		}
	}
}

func TestRequestID(t *testing.T) {
	h := serve(t, []ply.Plugin{stock.NewRequestID(middleware.RequestIDOptions{})},
		[]ply.Handler{route("GET /", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, middleware.RequestIDFrom(r.Context()))
		})})
	res, body := h.get(t, "/")
	id := res.Header.Get("X-Request-Id")
	if id == "" || id != body {
		t.Errorf("X-Request-Id = %q, id in the handler = %q; want the same, not empty", id, body)
	}
}

func TestAccessLog(t *testing.T) {
	var logs logBuffer
	h := serve(t, []ply.Plugin{stock.NewAccessLog(middleware.AccessLogOptions{Message: "served"})},
		[]ply.Handler{route("GET /hello", hello)}, logs.logger())
	h.get(t, "/hello")
	var line string
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, `"msg":"served"`) {
			line = l
		}
	}
	if !strings.Contains(line, `"status":200`) || !strings.Contains(line, `"plugin":"accesslog"`) {
		t.Errorf("access log line = %q, want msg served, status 200 and plugin accesslog; log:\n%s", line, logs.String())
	}
}

const apiKey = "0123456789abcdef-ci"

func TestAuth(t *testing.T) {
	public := route("GET /public", hello)
	public.Options = map[string]any{"auth": &stock.Route{Skip: true}}
	h := serve(t, []ply.Plugin{stock.NewAuth(middleware.AuthOptions{
		APIKeys: []middleware.APIKey{{Name: "ci", Key: apiKey}},
	})}, []ply.Handler{route("GET /private", hello), public})

	res, _ := h.get(t, "/private")
	if res.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("GET /private without a key: %d, WWW-Authenticate %q; want 401 with a Bearer challenge",
			res.StatusCode, res.Header.Get("WWW-Authenticate"))
	}
	res, _ = h.do(t, http.MethodGet, "/private", http.Header{"X-Api-Key": {apiKey}})
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET /private with the key: %d, want 200", res.StatusCode)
	}
	res, _ = h.get(t, "/public")
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET /public (skip: true) without a key: %d, want 200", res.StatusCode)
	}
}

func TestAuthSkipFromYAML(t *testing.T) {
	h := serve(t, []ply.Plugin{stock.NewAuth(middleware.AuthOptions{
		APIKeys: []middleware.APIKey{{Name: "ci", Key: apiKey}},
	})}, nil, ply.WithModules(ply.Module{
		Name: "public", Prefix: "/pub",
		Options:  map[string]any{"auth": ply.RawOptions{File: "ply.yaml", Data: []byte("skip: true\n")}},
		Handlers: []ply.Handler{route("GET /x", hello)},
	}))
	if res, _ := h.get(t, "/pub/x"); res.StatusCode != http.StatusOK {
		t.Errorf("GET /pub/x in a module with skip: true: %d, want 200", res.StatusCode)
	}
}

func TestRateLimit(t *testing.T) {
	h := serve(t, []ply.Plugin{stock.NewRateLimit(middleware.RateLimitOptions{Rate: 0.001, Burst: 2})},
		[]ply.Handler{route("GET /", hello)})
	for i := range 2 {
		if res, _ := h.get(t, "/"); res.StatusCode != http.StatusOK {
			t.Fatalf("request %d within the burst: %d, want 200", i+1, res.StatusCode)
		}
	}
	res, _ := h.get(t, "/")
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Errorf("request after the burst: %d, Retry-After %q; want 429 with Retry-After",
			res.StatusCode, res.Header.Get("Retry-After"))
	}
}

func TestRateLimitOptionsFromYAML(t *testing.T) {
	srv := httpserver.New(httpserver.Options{Addr: "127.0.0.1:0"})
	h, err := ply.New([]ply.Plugin{srv, stock.NewRateLimit(middleware.RateLimitOptions{})},
		ply.WithOptions("ratelimit", ply.RawOptions{File: "ply.yaml", Data: []byte("burst: -1\n")}),
		ply.WithLogger(slog.New(slog.DiscardHandler)))
	if err == nil {
		err = h.Start(t.Context())
		if err == nil {
			_ = h.Stop(context.WithoutCancel(t.Context()))
		}
	}
	ce, ok := errors.AsType[*option.Error](err)
	if !ok {
		t.Fatalf("start with burst: -1: %v, want a *option.Error", err)
	}
	if ce.Plugin != "ratelimit" || ce.Field != "burst" || ce.File != "ply.yaml" || ce.Line != 1 || ce.Column == 0 {
		t.Errorf("option.Error = %+v, want plugin ratelimit, field burst at ply.yaml:1:<col>", *ce)
	}
}

func TestCORS(t *testing.T) {
	h := serve(t, []ply.Plugin{stock.NewCORS(middleware.CORSOptions{AllowedOrigins: []string{"https://app.example"}})},
		[]ply.Handler{route("/items", hello)})
	res, _ := h.do(t, http.MethodOptions, "/items", http.Header{
		"Origin":                        {"https://app.example"},
		"Access-Control-Request-Method": {"GET"},
	})
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Errorf("preflight: %d, Access-Control-Allow-Origin %q; want 204 with the origin",
			res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
	}
}

func TestTimeout(t *testing.T) {
	h := serve(t, []ply.Plugin{stock.NewTimeout(middleware.TimeoutOptions{Timeout: 20 * time.Millisecond, Status: http.StatusGatewayTimeout})},
		[]ply.Handler{route("GET /slow", func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })})
	if res, _ := h.get(t, "/slow"); res.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("GET /slow: %d, want 504", res.StatusCode)
	}
}

// items is a cacheable route tagged "items" that counts its calls.
func items(calls *atomic.Int32) ply.Handler {
	return route("GET /items", func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Cache-Tag", "items")
		_, _ = io.WriteString(w, "items")
	})
}

// The cache stores, serves and invalidates by tag through the cache it
// provides; with a reload between the store and the hit (new options), the
// new instance keeps what the old one stored, and the cache the host
// provides afterwards is the new one, which knows the tags.
func TestCache(t *testing.T) {
	for _, reload := range []bool{false, true} {
		t.Run(map[bool]string{false: "one instance", true: "reloaded"}[reload], func(t *testing.T) {
			var calls atomic.Int32
			srv := httpserver.New(httpserver.Options{Addr: "127.0.0.1:0"})
			h := serveWith(t, srv, []ply.Plugin{stock.NewCache(middleware.CacheOptions{})}, []ply.Handler{items(&calls)})
			for i, want := range []string{"MISS", "HIT"} {
				if i == 1 && reload {
					if _, err := h.Reload(t.Context(), ply.Change{Plugins: []ply.Plugin{srv, stock.NewCache(middleware.CacheOptions{MaxBytes: 32 << 20})}}); err != nil {
						t.Fatalf("reload: %v", err)
					}
				}
				res, body := h.get(t, "/items")
				if got := res.Header.Get("X-Cache"); got != want || body != "items" {
					t.Errorf("request %d: X-Cache %q, body %q; want %s, items", i+1, got, body, want)
				}
			}
			c, err := ply.Lookup(h, stock.CacheKey)
			if err != nil {
				t.Fatalf("Lookup(%s): %v", stock.CacheKey, err)
			}
			c.InvalidateTag("items")
			if res, _ := h.get(t, "/items"); res.Header.Get("X-Cache") != "MISS" {
				t.Errorf("after InvalidateTag: X-Cache %q, want MISS", res.Header.Get("X-Cache"))
			}
			if got := calls.Load(); got != 2 {
				t.Errorf("handler ran %d times, want 2", got)
			}
		})
	}
}

func TestBreaker(t *testing.T) {
	var calls atomic.Int32
	h := serve(t, []ply.Plugin{stock.NewBreaker(middleware.BreakerOptions{Failures: 2, Timeout: time.Minute})},
		[]ply.Handler{route("GET /flaky", func(w http.ResponseWriter, _ *http.Request) {
			calls.Add(1)
			w.WriteHeader(http.StatusInternalServerError)
		})}, ply.WithLogger(slog.New(slog.DiscardHandler)))
	for range 2 {
		h.get(t, "/flaky")
	}
	res, _ := h.get(t, "/flaky")
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Errorf("after 2 failures: %d, Retry-After %q; want 503 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if got := calls.Load(); got != 2 {
		t.Errorf("handler ran %d times, want 2 (the open breaker fails fast)", got)
	}
}

func TestBulkhead(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	h := serve(t, []ply.Plugin{stock.NewBulkhead(middleware.BulkheadOptions{MaxConcurrent: 1})},
		[]ply.Handler{route("GET /busy", func(w http.ResponseWriter, _ *http.Request) {
			entered <- struct{}{}
			<-release
			_, _ = io.WriteString(w, "done")
		})})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, h.base+"/busy", nil)
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan int, 1) // the first request's status, or 0
	go func() {
		res, err := h.client.Do(req)
		if err != nil {
			first <- 0
			return
		}
		_ = res.Body.Close() // only the status matters
		first <- res.StatusCode
	}()
	<-entered
	res, _ := h.get(t, "/busy")
	close(release)
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("second concurrent request: %d, want 503", res.StatusCode)
	}
	if got := <-first; got != http.StatusOK {
		t.Errorf("first request: %d, want 200", got)
	}
}

func TestRetry(t *testing.T) {
	var calls atomic.Int32
	h := serve(t, []ply.Plugin{stock.NewRetry(middleware.RetryOptions{InitialInterval: time.Millisecond})},
		[]ply.Handler{route("GET /unstable", func(w http.ResponseWriter, _ *http.Request) {
			if calls.Add(1) == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			_, _ = io.WriteString(w, "second time")
		})})
	res, body := h.get(t, "/unstable")
	if res.StatusCode != http.StatusOK || body != "second time" {
		t.Errorf("GET /unstable: %d %q, want 200 \"second time\"", res.StatusCode, body)
	}
	if got := calls.Load(); got != 2 {
		t.Errorf("handler ran %d times, want 2", got)
	}
}

func TestMetrics(t *testing.T) {
	h := serve(t, []ply.Plugin{stock.NewMetrics(withPrometheus(t, stock.MetricsOptions{}))}, []ply.Handler{route("GET /hello", hello)})
	h.get(t, "/hello")
	handler, err := ply.Lookup(h, stock.MetricsKey)
	if err != nil {
		t.Fatalf("Lookup(%s): %v", stock.MetricsKey, err)
	}
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	var line string
	for l := range strings.Lines(body) {
		if strings.HasPrefix(l, "http_server_requests") && strings.Contains(l, `http_route="GET /hello"`) {
			line = l
		}
	}
	if !strings.HasSuffix(strings.TrimSpace(line), " 1") {
		t.Errorf("request counter line = %q, want a count of 1 for GET /hello; scrape:\n%s", line, body)
	}
}

func TestTracing(t *testing.T) {
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	h := serve(t, []ply.Plugin{stock.NewTracing(stock.TracingOptions{Propagator: propagation.TraceContext{}})},
		[]ply.Handler{route("GET /traced", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, traceID(r.Context()))
		})})
	_, body := h.do(t, http.MethodGet, "/traced", http.Header{"Traceparent": {parent}})
	if body != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("trace id in the handler = %q, want the incoming traceparent's", body)
	}
}

func TestErrorReport(t *testing.T) {
	var logs logBuffer
	h := serve(t, []ply.Plugin{stock.NewErrorReport(middleware.ErrorReportOptions{})},
		[]ply.Handler{route("GET /fail", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
		})}, logs.logger())
	h.get(t, "/fail")
	var line string
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, `"msg":"request failed"`) {
			line = l
		}
	}
	if !strings.Contains(line, `"status":500`) || !strings.Contains(line, `"pattern":"GET /fail"`) {
		t.Errorf("error report = %q, want status 500 and pattern GET /fail; log:\n%s", line, logs.String())
	}
}

func TestCatalog(t *testing.T) {
	all := map[string]bool{}
	for _, p := range stock.All() {
		all[p.Info().Name] = true
	}
	for name, newPlugin := range stock.Catalog() {
		if got := newPlugin().Info().Name; got != name {
			t.Errorf("Catalog()[%q] builds plugin %q", name, got)
		}
		if name != "httpserver" && !all[name] {
			t.Errorf("All() lacks %q", name)
		}
	}
	if len(all)+1 != len(stock.Catalog()) {
		t.Errorf("All() has %d plugins, Catalog() %d (with httpserver)", len(all), len(stock.Catalog()))
	}
}

func TestConformance(t *testing.T) {
	newCall := func() (any, any) {
		return httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/", nil), httptest.NewRecorder()
	}
	plytest.Run(t, stock.NewRequestID(middleware.RequestIDOptions{}), plytest.Conformance{Kind: ply.KindHTTP, NewCall: newCall})
}

// TestConformanceAll runs every stock plugin through plytest's checks:
// lifecycle twice in two hosts, concurrent calls, a re-entrant next, leaks.
func TestConformanceAll(t *testing.T) {
	newCall := func() (any, any) {
		return httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/", nil), httptest.NewRecorder()
	}
	quiet := ply.WithLogger(slog.New(slog.DiscardHandler))
	for _, p := range withAuth(stock.All()) {
		t.Run(p.Info().Name, func(t *testing.T) {
			plytest.Run(t, p, plytest.Conformance{Kind: ply.KindHTTP, NewCall: newCall, Options: []ply.Option{quiet}, Calls: 100})
		})
	}
}

// withAuth replaces the auth plugin, whose zero options are rejected, by
// one with an API key.
func withAuth(plugins []ply.Plugin) []ply.Plugin {
	for i, p := range plugins {
		if p.Info().Name == "auth" {
			plugins[i] = stock.NewAuth(middleware.AuthOptions{APIKeys: []middleware.APIKey{{Name: "ci", Key: apiKey}}})
		}
	}
	return plugins
}

// TestStack serves a route through every stock plugin at once.
func TestStack(t *testing.T) {
	var calls atomic.Int32
	var logs logBuffer
	h := serve(t, withAuth(stock.All()), []ply.Handler{route("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if middleware.PrincipalFrom(r.Context()) == nil {
			t.Error("no principal in the handler's context")
		}
		w.Header().Set("Cache-Control", "public, max-age=60") // an authenticated response is shared only when public
		_, _ = io.WriteString(w, "item "+r.PathValue("id"))
	})}, logs.logger())
	key := http.Header{"X-Api-Key": {apiKey}}
	for i, want := range []string{"MISS", "HIT"} {
		res, body := h.do(t, http.MethodGet, "/items/7", key)
		if res.StatusCode != http.StatusOK || body != "item 7" || res.Header.Get("X-Cache") != want || res.Header.Get("X-Request-Id") == "" {
			t.Errorf("request %d: %d %q, X-Cache %q, X-Request-Id %q; want 200 \"item 7\", %s and an id",
				i+1, res.StatusCode, body, res.Header.Get("X-Cache"), res.Header.Get("X-Request-Id"), want)
		}
	}
	if res, _ := h.get(t, "/items/7"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("request without a key: %d, want 401", res.StatusCode)
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("handler ran %d times, want 1", got)
	}
	// The access log wraps auth (Security band): the 401 is logged too.
	if n := strings.Count(logs.String(), `"msg":"http request"`); n != 3 {
		t.Errorf("%d access log lines, want 3; log:\n%s", n, logs.String())
	}
}

// The server mounts /metrics, and the scrape has every plugin's layer on
// every route: calls, errors, short-circuits and self-time.
func TestLayerMetricsOnTheServer(t *testing.T) {
	auth := stock.NewAuth(middleware.AuthOptions{APIKeys: []middleware.APIKey{{Name: "k", Key: "key-0123456789abcdef"}}})
	h := serve(t, []ply.Plugin{stock.NewMetrics(withPrometheus(t, stock.MetricsOptions{})), auth}, []ply.Handler{route("GET /hello", hello)})
	h.get(t, "/hello") // no key: auth short-circuits with 401
	h.do(t, http.MethodGet, "/hello", http.Header{"X-Api-Key": {"key-0123456789abcdef"}})
	res, body := h.get(t, "/metrics")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d", res.StatusCode)
	}
	want := map[string]string{
		`ply_layer_calls_total{handler="app GET /hello",otel_scope_name="github.com/plykit/ply/stock",otel_scope_schema_url="",otel_scope_version="",plugin="auth"}`:          "2",
		`ply_layer_short_circuits_total{handler="app GET /hello",otel_scope_name="github.com/plykit/ply/stock",otel_scope_schema_url="",otel_scope_version="",plugin="auth"}`: "1",
		`ply_layer_calls_total{handler="app GET /hello",otel_scope_name="github.com/plykit/ply/stock",otel_scope_schema_url="",otel_scope_version="",plugin="metrics"}`:       "2", // outside auth: it sees the rejected call too
	}
	for series, n := range want {
		found := false
		for l := range strings.Lines(body) {
			if strings.HasPrefix(l, series+" ") {
				found = strings.TrimSpace(strings.TrimPrefix(l, series)) == n
			}
		}
		if !found {
			t.Errorf("no %s %s in the scrape:\n%s", series, n, body)
		}
	}
	if !strings.Contains(body, "ply_layer_self_seconds_total{") {
		t.Error("no self-time counter in the scrape")
	}
}
