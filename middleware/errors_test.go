package middleware_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/plykit/ply/middleware"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

type captured struct {
	mu   sync.Mutex
	errs []middleware.ReportedError
}

func (c *captured) Report(_ context.Context, e middleware.ReportedError) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, e)
}

func TestErrorReport(t *testing.T) {
	rep := &captured{}
	rec := must(middleware.NewRecover(middleware.RecoverOptions{}, discardLogger()))(t)
	rid := must(middleware.NewRequestID(middleware.RequestIDOptions{}))(t)
	er := must(middleware.NewErrorReport(middleware.ErrorReportOptions{Plugin: "stock.errors", Version: "1.2.0"}, rep))(t)
	mux := http.NewServeMux()
	mux.Handle("GET /fail", rec(rid(er(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })))))
	mux.Handle("GET /panic", rec(rid(er(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("kaput") })))))
	mux.Handle("GET /fine", rec(rid(er(ok))))
	srv := serve(t, mux)

	failed := get(t, srv.Client(), srv.URL+"/fail")
	panicked := get(t, srv.Client(), srv.URL+"/panic")
	get(t, srv.Client(), srv.URL+"/fine")
	if panicked.status != 500 {
		t.Errorf("panic: status %d, want 500 from the outer recover", panicked.status)
	}
	if len(rep.errs) != 2 {
		t.Fatalf("got %d reports, want 2: %+v", len(rep.errs), rep.errs)
	}
	e := rep.errs[0]
	if e.Plugin != "stock.errors" || e.Version != "1.2.0" || e.Status != 502 || e.Pattern != "GET /fail" ||
		e.RequestID != failed.header.Get("X-Request-Id") || e.Panic != nil {
		t.Errorf("5xx report = %+v", e)
	}
	p := rep.errs[1]
	if p.Status != 500 || p.Panic != "kaput" || len(p.Stack) == 0 || p.Path != "/panic" {
		t.Errorf("panic report = %+v", p)
	}
}

func TestLogReporterAddsSpanEvent(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	defer func() {
		if err := tp.Shutdown(t.Context()); err != nil {
			t.Errorf("shut down the provider: %v", err)
		}
	}()
	logger, logs := newLogger()
	ctx, span := tp.Tracer("test").Start(t.Context(), "req")
	middleware.LogReporter{Logger: logger}.Report(ctx, middleware.ReportedError{Plugin: "p", Version: "v1", Status: 503})
	span.End()

	events := sr.Ended()[0].Events()
	if len(events) != 1 || events[0].Name != "error" {
		t.Errorf("span events = %+v, want one \"error\" event", events)
	}
	recs := logs.records(t)
	if len(recs) != 1 || recs[0]["plugin"] != "p" || recs[0]["version"] != "v1" || recs[0]["status"] != float64(503) {
		t.Errorf("log = %v", recs)
	}
}
