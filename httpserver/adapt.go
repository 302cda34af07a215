package httpserver

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"github.com/plykit/ply"
	"github.com/plykit/ply/internal/httpwriter"
)

// Handler returns an http.Handler that serves r through ch: the call's
// request is r and its response is an http.ResponseWriter wrapping w (see
// [ResponseWriter]). An error the chain returns is answered once, where it
// first leaves the ply chain for net/http code: the innermost adapted
// middleware it returns to ([Layer]), so that middleware outside (access
// log, metrics) sees the real status, or else here. Answering logs the
// error once, at error level for a 5xx, with the route and, for a
// [*ply.PluginError], the plugin, and writes [Status](err) with a problem
// body if nothing was written yet. A panic after the response began aborts
// it (http.ErrAbortHandler), as net/http does, and so does a panic with
// http.ErrAbortHandler, unlogged. Errors are logged with
// [slog.Default]; the server plugin uses the host's logger.
func Handler(ch *ply.Chain) http.Handler { return handler(ch, nil) }

func handler(ch *ply.Chain, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := writers.Get().(*ResponseWriter)
		rw.reset(w)
		rw.logger = logger
		_, err := ch.Serve(r.Context(), r, rw)
		if err != nil && rw.answered == nil {
			rw.answer(w, r, ch.Module().Name, ch.Handler().Name, err)
		}
		began := rw.w.Status() != 0
		rw.reset(nil)
		writers.Put(rw)
		if err != nil && (began && isPanic(err) || errors.Is(err, http.ErrAbortHandler)) {
			// The response began before the panic: abort it, as net/http
			// does, so the client cannot take it for a whole one.
			panic(http.ErrAbortHandler)
		}
	})
}

func isPanic(err error) bool {
	_, ok := errors.AsType[*ply.PanicError](err)
	return ok
}

var writers = sync.Pool{New: func() any { return new(ResponseWriter) }}

var (
	_ http.Flusher                              = (*ResponseWriter)(nil)
	_ http.Hijacker                             = (*ResponseWriter)(nil)
	_ io.ReaderFrom                             = (*ResponseWriter)(nil)
	_ interface{ Unwrap() http.ResponseWriter } = (*ResponseWriter)(nil)
)

// ResponseWriter is the http.ResponseWriter of a ply HTTP call. It records
// the final status and the body bytes written, passes Flush, Hijack and
// ReadFrom (sendfile) on to the server's writer, and unwraps to it, so
// [http.ResponseController] also reaches its deadlines. Informational
// (1xx) statuses go out without being recorded: the final status follows.
type ResponseWriter struct {
	w        httpwriter.Writer
	frame    frame // of the innermost adapted middleware running
	answered error // the error coming back through the chain, once answered
	logger   *slog.Logger
}

// frame is what an adapted middleware's inner handler needs to continue
// the chain: set by the adapter around the middleware, saved and restored
// on the Go stack, so nested adapters need no lookup.
type frame struct {
	call *ply.Call
	next ply.Next
	err  error // what next returned
}

func (w *ResponseWriter) reset(to http.ResponseWriter) {
	*w = ResponseWriter{}
	w.w.Reset(to, nil)
}

// Header returns the server writer's header.
func (w *ResponseWriter) Header() http.Header { return w.w.Header() }

// WriteHeader records the status, unless it is informational (1xx) or a
// final status was written already, and passes it on.
func (w *ResponseWriter) WriteHeader(code int) { w.w.WriteHeader(code) }

// Write records the status (200 if none was set) and the bytes written.
func (w *ResponseWriter) Write(b []byte) (int, error) { return w.w.Write(b) }

// ReadFrom copies src to the response with the server writer's ReadFrom,
// as Write would, recording the status and the bytes.
func (w *ResponseWriter) ReadFrom(src io.Reader) (int64, error) { return w.w.ReadFrom(src) }

// Flush implements [http.Flusher], recording the status (200 if none was
// set).
func (w *ResponseWriter) Flush() { w.w.Flush() }

// FlushError is Flush, returning the error of the server writer's Flush
// (an [http.ErrNotSupported] if it has none), as [http.ResponseController]
// wants.
func (w *ResponseWriter) FlushError() error { return w.w.FlushError() }

// Hijack implements [http.Hijacker] with the server writer's Hijack.
func (w *ResponseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) { return w.w.Hijack() }

// Status returns the final status written so far, or 0.
func (w *ResponseWriter) Status() int { return w.w.Status() }

// Written returns how many body bytes were written.
func (w *ResponseWriter) Written() int64 { return w.w.Written() }

// Answered returns the error the host answered the response with (see
// [Handler]), or nil: for net/http middleware around the chain that
// reports failures, such as the stock error reports, which find it under
// their writer following Unwrap.
func (w *ResponseWriter) Answered() error { return w.answered }

// Unwrap returns the underlying writer, for [http.ResponseController].
func (w *ResponseWriter) Unwrap() http.ResponseWriter { return w.w.Unwrap() }

type writerKey struct{}

// writerOf returns the call's ply writer: under w, following Unwrap, else
// from the request's context.
func writerOf(w http.ResponseWriter, r *http.Request) *ResponseWriter {
	if rw := find(w); rw != nil {
		return rw
	}
	rw, _ := r.Context().Value(writerKey{}).(*ResponseWriter)
	return rw
}

// find returns the ply writer under w, following Unwrap, or nil.
func find(w http.ResponseWriter) *ResponseWriter {
	for w != nil {
		if rw, ok := w.(*ResponseWriter); ok {
			return rw
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		w = u.Unwrap()
	}
	return nil
}

// Layer turns net/http middleware into a ply layer for [ply.KindHTTP]
// handlers. mw is applied once, to an inner handler that continues the ply
// chain, so a layer adds no allocation per call. The middleware may replace
// the request (r.WithContext…) and wrap the writer; the inner layers see
// both. The inner handler finds the call under the writer it receives,
// following Unwrap() http.ResponseWriter as [http.ResponseController] does;
// middleware that hands the inner chain a writer of its own without Unwrap
// (a buffer) needs [LayerBuffered] instead — with Layer, such a call fails
// with an error naming the middleware's plugin and the fix.
func Layer(mw func(http.Handler) http.Handler) ply.Layer { return layer(mw, false) }

// LayerBuffered is [Layer] for middleware that hands the inner chain a
// writer of its own without an Unwrap method: the request's context carries
// the call's writer instead, at two allocations per call.
func LayerBuffered(mw func(http.Handler) http.Handler) ply.Layer { return layer(mw, true) }

func layer(mw func(http.Handler) http.Handler, viaContext bool) ply.Layer {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := writerOf(w, r)
		if rw == nil || rw.frame.call == nil {
			panic("httpserver: the middleware handed the inner chain a ResponseWriter without Unwrap; adapt it with httpserver.LayerBuffered")
		}
		c, next := rw.frame.call, rw.frame.next
		req, res := c.Request(), c.Response()
		c.SetRequest(r)
		c.SetResponse(w)
		rw.answered = nil // a new pass through the inner chain (a retry's)
		// Deferred so that a panic unwinding through the middleware leaves
		// the layers outside it, which may catch it and answer, with their
		// own request and writer rather than the middleware's.
		defer func() {
			c.SetRequest(req)
			c.SetResponse(res)
		}()
		err := next.Run(r.Context())
		if err != nil && rw.answered == nil {
			// The error leaves the ply chain here: answer it, so that the
			// middleware around sees the status it stands for.
			rw.answer(w, r, c.Module().Name, c.Handler().Name, err)
		}
		rw.frame.err = err // the frame is ours again: inner adapters restored theirs
	})
	h := mw(inner)
	return func(ctx context.Context, c *ply.Call, next ply.Next) error {
		r, ok := c.Request().(*http.Request)
		if !ok { // not an HTTP call: the middleware does not apply
			return next.Run(ctx)
		}
		w, _ := c.Response().(http.ResponseWriter)
		rw := writerOf(w, r)
		if rw == nil { // called outside Handler, e.g. Serve(ctx, r, httptest.NewRecorder())
			rw = new(ResponseWriter)
			rw.reset(w)
			w = rw
			c.SetResponse(rw)
		}
		if ctx != r.Context() { // the chain's context (a tenant's, a layer's deadline) goes on inside the middleware
			r = r.WithContext(ctx)
		}
		if viaContext {
			r = r.WithContext(context.WithValue(r.Context(), writerKey{}, rw))
		}
		outer := rw.frame
		rw.frame = frame{call: c, next: next}
		defer func() { rw.frame = outer }() // the enclosing adapter's, also after a panic
		h.ServeHTTP(w, r)
		return rw.frame.err
	}
}
