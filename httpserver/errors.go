package httpserver

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/plykit/ply"
	"github.com/plykit/ply/internal/httpwriter"
	"github.com/plykit/ply/internal/reqid"
)

// StatusClientClosed is the status of a request whose client went away
// before the answer (the request's context was cancelled): nginx's 499.
// Nobody receives it; access logs and metrics record it.
const StatusClientClosed = 499

// Status returns the HTTP status that answers err, an error a chain
// returned. The mapping, first match wins:
//
//   - an error in err's tree with a StatusCode() int or HTTPStatus() int
//     method returning 400..599: that status;
//   - an [*http.MaxBytesError] (a body over the server's limit): 413;
//   - [context.DeadlineExceeded]: 504;
//   - [context.Canceled]: [StatusClientClosed] (499);
//   - anything else, a [*ply.PluginError] or [*ply.HandlerError] included: 500.
func Status(err error) int {
	if err == nil {
		return http.StatusOK
	}
	var coded interface{ StatusCode() int }
	if errors.As(err, &coded) {
		if s := coded.StatusCode(); s >= 400 && s <= 599 {
			return s
		}
	}
	var httpStatus interface{ HTTPStatus() int }
	if errors.As(err, &httpStatus) {
		if s := httpStatus.HTTPStatus(); s >= 400 && s <= 599 {
			return s
		}
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return http.StatusRequestEntityTooLarge
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, context.Canceled):
		return StatusClientClosed
	}
	return http.StatusInternalServerError
}

// answer turns err, which the chain inside returned to w's writer, into
// the response, once per pass through the chain: it logs err with what
// caused it and, if nothing was written yet, writes [Status](err) with a
// problem body (RFC 9457) whose detail is left out, so no internal error
// text reaches the client. When the response had begun, it can only log;
// the caller aborts a panicking one. A panic with [http.ErrAbortHandler]
// is neither logged nor answered: the caller aborts the response.
func (rw *ResponseWriter) answer(w http.ResponseWriter, r *http.Request, module, handler string, err error) {
	rw.answered = err
	if errors.Is(err, http.ErrAbortHandler) {
		return // a deliberate abort: the host aborts the response, unlogged
	}
	status := Status(err)
	began := rw.w.Status() != 0
	logger := rw.logger
	if logger == nil {
		logger = slog.Default()
	}
	level := slog.LevelError
	if status < 500 {
		level = slog.LevelInfo
	}
	ctx := r.Context()
	if _, logged := errors.AsType[loggedError](err); !logged && logger.Enabled(ctx, level) {
		attrs := make([]slog.Attr, 0, 10)
		attrs = append(attrs, slog.String("method", clip(r.Method)), slog.String("path", clip(r.URL.Path)))
		attrs = append(attrs, slog.String("module", module), slog.String("handler", handler))
		if id := reqid.From(ctx); id != "" {
			attrs = append(attrs, slog.String("request_id", id))
		}
		if pe, ok := errors.AsType[*ply.PluginError](err); ok {
			attrs = append(attrs, slog.String("plugin", pe.Plugin), slog.String("version", pe.Version))
		}
		if began {
			attrs = append(attrs, slog.Int("status", rw.w.Status()), slog.Bool("response_began", true))
		} else {
			attrs = append(attrs, slog.Int("status", status))
		}
		attrs = append(attrs, slog.String("err", err.Error()))
		if pe, ok := errors.AsType[*ply.PanicError](err); ok {
			attrs = append(attrs, slog.String("stack", string(pe.Stack)))
		}
		logger.LogAttrs(ctx, level, "request failed", attrs...)
	}
	if began {
		return
	}
	title := http.StatusText(status)
	if status == StatusClientClosed {
		title = "Client Closed Request"
	}
	httpwriter.WriteProblem(w, status, title, "")
}

// Logged returns err marked as logged already, for a layer that logged it
// and returns it on (the stock recover plugin, with a panic it could not
// answer): the server answers it as err, and does not log it again.
func Logged(err error) error {
	if err == nil {
		return nil
	}
	return loggedError{err}
}

type loggedError struct{ err error }

func (e loggedError) Error() string { return e.err.Error() }

func (e loggedError) Unwrap() error { return e.err }

// maxField is the longest value, in bytes, that the server logs of a field
// taken from the request (method, path); clip cuts longer ones.
const maxField = 1024

// clip returns s if it is at most maxField bytes long, else its first
// maxField bytes followed by "…[truncated, N bytes]", N being len(s): a
// 200 KB path makes a short log line that says it was cut.
func clip(s string) string {
	if len(s) <= maxField {
		return s
	}
	return s[:maxField] + "…[truncated, " + strconv.Itoa(len(s)) + " bytes]"
}
