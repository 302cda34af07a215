package middleware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/plykit/ply/internal/httpwriter"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// ReportedError describes a request that failed: a 5xx response or a panic.
type ReportedError struct {
	Plugin    string // the reporting plugin's name, from [ErrorReportOptions]
	Version   string // the reporting plugin's version
	Method    string
	Path      string // the raw URL path
	Pattern   string // the route pattern, when known
	RequestID string // from [RequestIDFrom], when set
	Status    int    // the response status; 500 for a panic
	Panic     any    // the panic value, or nil
	Stack     []byte // the stack of the panic, or nil
	// Err is the error a ply chain returned and the HTTP host answered
	// the response with (and logged), when it did; nil otherwise. It is
	// found under the layer's writer, following Unwrap, as a writer with
	// an Answered() error method.
	Err error
}

// Reporter receives failed requests, for example to send them to an error tracker.
// Report is called on the request's goroutine after the inner chain returned (or
// panicked), so it should not block for long; it must be safe for concurrent use.
type Reporter interface {
	Report(ctx context.Context, e ReportedError)
}

// LogReporter is the default [Reporter]: it adds an "error" event to the span in
// ctx (if any) and logs the error with slog at error level, unless the HTTP host
// logged it already (ReportedError.Err is set): an error is logged once.
type LogReporter struct {
	Logger *slog.Logger // nil means slog.Default
}

// Report implements [Reporter].
func (lr LogReporter) Report(ctx context.Context, e ReportedError) {
	panicText := ""
	if e.Panic != nil {
		panicText = fmt.Sprint(e.Panic)
	}
	errText := ""
	if e.Err != nil {
		errText = e.Err.Error()
	}
	trace.SpanFromContext(ctx).AddEvent("error", trace.WithAttributes(
		attribute.String("ply.plugin", e.Plugin),
		attribute.String("ply.plugin.version", e.Version),
		attribute.Int("http.response.status_code", e.Status),
		attribute.String("panic", panicText),
		attribute.String("error", errText),
	))
	if e.Err != nil {
		return // the host logged it
	}
	logger := lr.Logger
	if logger == nil {
		logger = slog.Default()
	}
	attrs := []slog.Attr{
		slog.String("plugin", e.Plugin),
		slog.String("version", e.Version),
		slog.String("method", e.Method),
		slog.String("path", e.Path),
		slog.String("pattern", e.Pattern),
		slog.String("request_id", e.RequestID),
		slog.Int("status", e.Status),
	}
	if e.Panic != nil {
		attrs = append(attrs, slog.String("panic", panicText), slog.String("stack", string(e.Stack)))
	}
	logger.LogAttrs(ctx, slog.LevelError, "request failed", attrs...)
}

// ErrorReportOptions configures [NewErrorReport]. The zero value reports without a
// plugin name.
type ErrorReportOptions struct {
	// Plugin and Version name the plugin in every report.
	Plugin  string `json:"plugin,omitempty"`
	Version string `json:"version,omitempty"`
}

// NewErrorReport returns a layer that passes every 5xx response and every panic of
// the inner chain to rep (nil means a [LogReporter] on [slog.Default]). A panic is
// reported and then passed on, so put a [NewRecover] layer outside this one to turn
// it into a 500; [http.ErrAbortHandler] is not reported.
func NewErrorReport(opts ErrorReportOptions, rep Reporter) (func(http.Handler) http.Handler, error) {
	if rep == nil {
		rep = LogReporter{}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sw := httpwriter.New(w, nil)
			report := func(status int, p any, stack []byte, err error) {
				ctx := r.Context()
				rep.Report(ctx, ReportedError{
					Plugin: opts.Plugin, Version: opts.Version,
					Method: Clip(r.Method), Path: Clip(r.URL.Path), Pattern: r.Pattern,
					RequestID: RequestIDFrom(ctx), Status: status, Panic: p, Stack: stack, Err: err,
				})
			}
			defer func() {
				if v := recover(); v != nil {
					if err, ok := v.(error); !ok || !errors.Is(err, http.ErrAbortHandler) {
						report(http.StatusInternalServerError, v, debug.Stack(), nil)
					}
					panic(v)
				}
			}()
			next.ServeHTTP(sw, r)
			if s := sw.Status(); s >= 500 { // net/http sends 200 when it is 0
				report(s, nil, nil, answered(w))
			}
		})
	}, nil
}

// answered returns the error the HTTP host answered w's response with: the
// Answered() of the first writer under w, following Unwrap, that has one.
func answered(w http.ResponseWriter) error {
	for w != nil {
		if a, ok := w.(interface{ Answered() error }); ok {
			return a.Answered()
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		w = u.Unwrap()
	}
	return nil
}
