package httpserver_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/plytest"
)

type codedError struct{ code int }

func (e codedError) Error() string   { return fmt.Sprintf("coded %d", e.code) }
func (e codedError) StatusCode() int { return e.code }

func TestStatus(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want int
	}{
		{"plain", errors.New("db down"), 500},
		{"plugin error", &ply.PluginError{Op: ply.OpLayer, Plugin: "p", Version: "1.0.0", Err: errors.New("x")}, 500},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), 504},
		{"cancelled", context.Canceled, httpserver.StatusClientClosed},
		{"body too large", fmt.Errorf("read: %w", &http.MaxBytesError{Limit: 8}), 413},
		{"own status", fmt.Errorf("wrapped: %w", codedError{409}), 409},
		{"own status wins over deadline", errors.Join(context.DeadlineExceeded, codedError{503}), 503},
		{"own status out of range", codedError{200}, 500},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := httpserver.Status(tt.err); got != tt.want {
				t.Errorf("Status(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

// seen records the status net/http middleware saw for each request.
type seen struct {
	mu     sync.Mutex
	status []int
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *seen) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		s.mu.Lock()
		s.status = append(s.status, rec.status)
		s.mu.Unlock()
	})
}

// A returned error is answered where it leaves the chain for net/http
// middleware, so the middleware sees the status the client gets; it is
// logged once, naming the route or the plugin.
func TestErrorSeenByMiddleware(t *testing.T) {
	var s seen
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(p)
	}), nil))
	outer := ply.Func{Meta: ply.Info{Name: "observer", Version: "1.0.0", Priority: ply.System, Kinds: []ply.Kind{ply.KindHTTP}},
		OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
			return ply.Wrap{Layer: httpserver.Layer(s.middleware)}, nil
		}}
	failing := ply.Func{Meta: ply.Info{Name: "failing", Version: "2.0.0", Priority: ply.Business, Kinds: []ply.Kind{ply.KindHTTP}},
		OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
			return ply.Wrap{Layer: func(ctx context.Context, c *ply.Call, next ply.Next) error {
				if c.Request().(*http.Request).URL.Path == "/layer" {
					return &ply.PluginError{Op: ply.OpLayer, Plugin: "failing", Version: "2.0.0", Err: errors.New("quota store down")}
				}
				return next.Run(ctx)
			}}, nil
		}}
	srv := httpserver.New(httpserver.Options{Addr: "127.0.0.1:0"})
	fail := func(err error) ply.HandlerFunc { return func(context.Context, *ply.Call) error { return err } }
	plytest.New(t, []ply.Plugin{srv, outer, failing}, ply.WithLogger(logger), ply.WithModules(ply.Module{Name: "m", Handlers: []ply.Handler{
		{Kind: ply.KindHTTP, Name: "GET /fail", Func: fail(errors.New("database down"))},
		{Kind: ply.KindHTTP, Name: "GET /timeout", Func: fail(context.DeadlineExceeded)},
		{Kind: ply.KindHTTP, Name: "GET /layer", Func: fail(nil)},
	}}))
	base := "http://" + srv.Addr().String()
	for _, tt := range []struct {
		path string
		want int
	}{{"/fail", 500}, {"/timeout", 504}, {"/layer", 500}} {
		code, body := get(t, base+tt.path)
		if code != tt.want || strings.Contains(body, "down") {
			t.Errorf("GET %s = %d %q, want %d without the error's text", tt.path, code, body, tt.want)
		}
	}
	s.mu.Lock()
	got := fmt.Sprint(s.status)
	s.mu.Unlock()
	if got != "[500 504 500]" {
		t.Errorf("the middleware saw %s, want [500 504 500]", got)
	}
	logMu.Lock()
	defer logMu.Unlock()
	var failed []string
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, `"msg":"request failed"`) {
			failed = append(failed, l)
		}
	}
	want := []string{`"handler":"GET /fail","status":500,"err":"database down"`, `"handler":"GET /timeout","status":504`, `"plugin":"failing","version":"2.0.0","status":500`}
	if len(failed) != len(want) {
		t.Fatalf("%d errors logged, want %d (once each):\n%s", len(failed), len(want), logs.String())
	}
	for i, w := range want {
		if !strings.Contains(failed[i], w) {
			t.Errorf("logged %s, want %s in it", failed[i], w)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// An error marked Logged is answered, and not logged again.
func TestLoggedNotLoggedAgain(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	srv := httpserver.New(httpserver.Options{Addr: "127.0.0.1:0"})
	plytest.New(t, []ply.Plugin{srv}, ply.WithLogger(logger), ply.WithModules(ply.Module{Name: "m", Handlers: []ply.Handler{
		{Kind: ply.KindHTTP, Name: "GET /logged", Func: func(context.Context, *ply.Call) error {
			return httpserver.Logged(fmt.Errorf("told already: %w", context.DeadlineExceeded))
		}},
	}}))
	if code, _ := get(t, "http://"+srv.Addr().String()+"/logged"); code != http.StatusGatewayTimeout {
		t.Errorf("GET /logged = %d, want 504", code)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(logs.String(), "request failed") {
		t.Errorf("a Logged error was logged again:\n%s", logs.String())
	}
}

// A panic with http.ErrAbortHandler aborts the response, unlogged, as
// net/http does.
func TestAbortHandler(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	srv := httpserver.New(httpserver.Options{Addr: "127.0.0.1:0"})
	plytest.New(t, []ply.Plugin{srv}, ply.WithLogger(logger), ply.WithModules(ply.Module{Name: "m", Handlers: []ply.Handler{
		{Kind: ply.KindHTTP, Name: "GET /abort", Func: func(context.Context, *ply.Call) error { panic(http.ErrAbortHandler) }},
	}}))
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+srv.Addr().String()+"/abort", nil)
	if res, err := client.Do(req); err == nil {
		_ = res.Body.Close() // the test fails already; only the status is reported
		t.Errorf("GET /abort = %d, want the response aborted", res.StatusCode)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(logs.String(), "request failed") {
		t.Errorf("an abort was logged:\n%s", logs.String())
	}
}
