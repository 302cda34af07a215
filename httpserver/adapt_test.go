package httpserver_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/plytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type ctxKey struct{}

// header is ordinary net/http middleware: it sets a response header, puts a
// value in the request context and wraps the writer (with Unwrap).
func header(rec *plytest.Recorder, name string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec.Record(name, " before")
			w.Header().Set("X-"+name, "yes")
			next.ServeHTTP(&wrapped{w}, r.WithContext(context.WithValue(r.Context(), ctxKey{}, name)))
			rec.Record(name, " after")
		})
	}
}

type wrapped struct{ http.ResponseWriter }

func (w *wrapped) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func plugin(name string, prio int, l ply.Layer) ply.Plugin {
	return ply.Func{
		Meta:   ply.Info{Name: name, Version: "1.0.0", Priority: prio, Kinds: []ply.Kind{ply.KindHTTP}},
		OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) { return ply.Wrap{Layer: l}, nil },
	}
}

func TestAdapters(t *testing.T) {
	rec := plytest.NewRecorder()
	handler := func(_ context.Context, c *ply.Call) error {
		r := c.Request().(*http.Request)
		w := c.Response().(http.ResponseWriter)
		rec.Record("handler sees ", r.Context().Value(ctxKey{}))
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush through the wrappers: %v", err)
		}
		_, _ = io.WriteString(w, "hello")
		return nil
	}
	h := plytest.New(t, []ply.Plugin{
		plugin("outer", ply.Security, httpserver.Layer(header(rec, "outer"))),
		plugin("native", ply.Logging, rec.Layer("native")),
		plugin("inner", ply.Business, httpserver.Layer(header(rec, "inner"))),
	}, ply.WithLogger(discard()), ply.WithModules(ply.Module{Name: "api", Handlers: []ply.Handler{
		{Kind: ply.KindHTTP, Name: "GET /hello", Func: handler},
	}}))
	srv := httptest.NewServer(mux(t, h))
	defer srv.Close()

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/hello", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close() // read to the end: a close error says nothing more
	if string(body) != "hello" || resp.Header.Get("X-outer") != "yes" || resp.Header.Get("X-inner") != "yes" {
		t.Errorf("response %q with headers %v", body, resp.Header)
	}
	want := []string{"outer before", "native before", "inner before", "handler sees inner", "inner after", "native after", "outer after"}
	if diff := cmp.Diff(want, rec.Lines()); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
}

// TestAdapterPanic: a panic inside adapted middleware unwinds it, and the
// layer outside that catches it sees its own request and writer again,
// not the middleware's, and answers through them.
func TestAdapterPanic(t *testing.T) {
	rec := plytest.NewRecorder()
	catcher := func(ctx context.Context, c *ply.Call, next ply.Next) error {
		err := next.Catch(ctx)
		r := c.Request().(*http.Request)
		_, wrappedWriter := c.Response().(*wrapped)
		rec.Record("catcher sees ", r.Context().Value(ctxKey{}), " wrapped=", wrappedWriter, " err=", err)
		http.Error(c.Response().(http.ResponseWriter), "caught", http.StatusInternalServerError)
		return nil
	}
	h := plytest.New(t, []ply.Plugin{
		plugin("catcher", ply.System, catcher),
		plugin("mw", ply.Business, httpserver.Layer(header(rec, "mw"))),
	}, ply.WithLogger(discard()), ply.WithModules(ply.Module{Name: "api", Handlers: []ply.Handler{
		{Kind: ply.KindHTTP, Name: "GET /boom", Func: func(context.Context, *ply.Call) error { panic("boom") }},
	}}))
	srv := httptest.NewServer(mux(t, h))
	defer srv.Close()

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/boom", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close() // read to the end: a close error says nothing more
	if resp.StatusCode != http.StatusInternalServerError || string(body) != "caught\n" {
		t.Errorf("response %d %q, want 500 \"caught\\n\"", resp.StatusCode, body)
	}
	want := []string{"mw before", `catcher sees <nil> wrapped=false err=handler api/GET /boom: panic: boom`}
	if diff := cmp.Diff(want, rec.Lines()); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// mux mounts every HTTP chain of h on its pattern, as the server plugin does.
func mux(t *testing.T, h *ply.Host) *http.ServeMux {
	t.Helper()
	m := http.NewServeMux()
	for _, ch := range h.Chains() {
		if ch.Handler().Kind == ply.KindHTTP {
			m.Handle(ch.Handler().Name, httpserver.Handler(ch))
		}
	}
	return m
}

type opaque struct{ http.ResponseWriter } // no Unwrap

func TestAdapterRules(t *testing.T) {
	deny := func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no", http.StatusForbidden) })
	}
	hide := func(next http.Handler) http.Handler { // a buffer of its own, as caches and retries use
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { next.ServeHTTP(opaque{w}, r) })
	}
	lose := func(next http.Handler) http.Handler { // hides the writer and drops the request's context
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(opaque{w}, r.WithContext(context.Background()))
		})
	}
	for _, tt := range []struct {
		name       string
		layer      ply.Layer
		wantStatus int
		wantErr    string
		ranHandler bool
	}{
		{name: "middleware short-circuits", layer: httpserver.Layer(deny), wantStatus: http.StatusForbidden},
		{name: "a writer without Unwrap needs LayerBuffered, and the error says so", layer: httpserver.Layer(hide), wantStatus: http.StatusOK,
			wantErr: "layer mw@1.0.0: panic: httpserver: the middleware handed the inner chain a ResponseWriter without Unwrap; adapt it with httpserver.LayerBuffered"},
		{name: "LayerBuffered continues under a writer without Unwrap", layer: httpserver.LayerBuffered(hide), wantStatus: http.StatusOK, ranHandler: true},
		{name: "a writer without Unwrap and a fresh context lose the call", layer: httpserver.LayerBuffered(lose), wantStatus: http.StatusOK,
			wantErr: "layer mw@1.0.0: panic: httpserver: the middleware handed the inner chain a ResponseWriter without Unwrap; adapt it with httpserver.LayerBuffered"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ran := false
			h := plytest.New(t, []ply.Plugin{plugin("mw", ply.Security, tt.layer)}, ply.WithLogger(discard()),
				ply.WithModules(ply.Module{Name: "api", Handlers: []ply.Handler{{Kind: ply.KindHTTP, Name: "GET /x",
					Func: func(context.Context, *ply.Call) error { ran = true; return nil }}}}))
			ch, err := h.Chain("api", "GET /x")
			if err != nil {
				t.Fatal(err)
			}
			w := httptest.NewRecorder() // served outside Handler: the adapter brings its own writer
			_, err = ch.Serve(t.Context(), httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/x", nil), w)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if gotErr != tt.wantErr || w.Code != tt.wantStatus || ran != tt.ranHandler {
				t.Errorf("err %q, status %d, handler ran %v; want %q, %d, %v", gotErr, w.Code, ran, tt.wantErr, tt.wantStatus, tt.ranHandler)
			}
		})
	}
}

// Adapted layers allocate nothing per call, at any depth.
func TestAdapterAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	pass := func(next http.Handler) http.Handler { return next }
	for _, depth := range []int{1, 6} {
		var ps []ply.Plugin
		for i := range depth {
			ps = append(ps, plugin(fmt.Sprint("l", i), ply.Security+i, httpserver.Layer(pass)))
		}
		h := plytest.New(t, ps, ply.WithLogger(discard()), ply.WithModules(ply.Module{Name: "api", Handlers: []ply.Handler{{Kind: ply.KindHTTP, Name: "GET /x",
			Func: func(context.Context, *ply.Call) error { return nil }}}}))
		ch, _ := h.Chain("api", "GET /x")
		handler := httpserver.Handler(ch)
		r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/x", nil)
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r) // warm the pools
		if n := testing.AllocsPerRun(100, func() { handler.ServeHTTP(w, r) }); n != 0 {
			t.Errorf("depth %d: allocs per request = %v, want 0", depth, n)
		}
	}
}
