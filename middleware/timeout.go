package middleware

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/plykit/ply/internal/httpwriter"
)

// TimeoutOptions configures [NewTimeout]. The zero value gives each request 30s and
// answers 503 when they run out.
type TimeoutOptions struct {
	// Timeout bounds each request, from when the layer is entered. Default 30s.
	Timeout time.Duration `json:"timeout,omitempty" jsonschema:"minimum=1ms"`
	// Status is sent when the deadline passes before the handler wrote a response:
	// 503 (Service Unavailable) or 504 (Gateway Timeout, for proxies). Default 503.
	Status int `json:"status,omitempty" jsonschema:"enum=503,enum=504"`
}

// NewTimeout returns a layer that runs the inner chain with a context deadline
// Timeout after the request arrives.
//
// It starts no goroutine and buffers nothing, unlike [http.TimeoutHandler]: the
// handler runs on the request's goroutine and must watch its context (as
// database/sql, net/http clients and well-behaved handlers do). When the deadline
// passes before the handler wrote its status, the handler's writes fail with
// [http.ErrHandlerTimeout] and the client gets Status with a problem body as soon
// as the handler returns. A response whose status was written in time is left alone:
// its body ends when the handler stops.
func NewTimeout(opts TimeoutOptions) (func(http.Handler) http.Handler, error) {
	if err := checked("timeout", opts); err != nil {
		return nil, err
	}
	if opts.Timeout == 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Status == 0 {
		opts.Status = http.StatusServiceUnavailable
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), opts.Timeout)
			defer cancel()
			deadline, _ := ctx.Deadline() // the earlier of ours and the request's
			tw := &timeoutWriter{deadline: deadline}
			tw.Reset(w, tw)
			next.ServeHTTP(tw, r.WithContext(ctx))
			if tw.Status() == 0 && (tw.timedOut || errors.Is(ctx.Err(), context.DeadlineExceeded) && r.Context().Err() == nil) {
				WriteProblem(w, opts.Status, "request timed out")
			}
		})
	}, nil
}

// timeoutWriter refuses to start a response after the deadline: its Writer
// consults it until the final status went out, and not after.
type timeoutWriter struct {
	httpwriter.Writer
	deadline time.Time
	timedOut bool
}

// Open refuses every status, interim ones included, from the deadline on.
func (w *timeoutWriter) Open(int) error {
	if w.timedOut || !time.Now().Before(w.deadline) {
		w.timedOut = true
		return http.ErrHandlerTimeout
	}
	return nil
}
