package middleware

import (
	"cmp"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/plykit/ply/internal/httpwriter"
)

// AccessLogOptions configures [NewAccessLog]. The zero value logs "http request" at
// info level.
type AccessLogOptions struct {
	// Message is the log message. Default "http request".
	Message string `json:"message,omitempty" jsonschema:"maxLength=256"`
	// Level is the slog level of successful requests: debug, info, warn or error.
	// Default info. Responses with a 5xx status are logged at error level.
	Level string `json:"level,omitempty" jsonschema:"enum=debug,enum=info,enum=warn,enum=error"`
}

func (o AccessLogOptions) level() (slog.Level, bool) {
	switch o.Level {
	case "", "info":
		return slog.LevelInfo, true
	case "debug":
		return slog.LevelDebug, true
	case "warn":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return 0, false
}

// NewAccessLog returns a layer that logs one record per request once the inner
// chain returns, with the attributes method, path (the raw URL path), pattern (the
// [http.Request.Pattern] that routed the request, when the layer runs inside a
// [http.ServeMux] route), status, bytes (body bytes written), duration and
// request_id (from [RequestIDFrom], when an outer [NewRequestID] layer set one).
// A method or path longer than [MaxLogField] bytes is cut to that length and
// marked "…[truncated, N bytes]", so a 200 KB path makes a short line.
// A panic passing through is logged with status 500 and left to an outer
// [NewRecover] layer.
// A nil logger means [slog.Default].
//
// The layer wraps the ResponseWriter; the wrapper implements Unwrap, Flush, Hijack
// and ReadFrom, so [http.ResponseController], streaming and sendfile keep working. Records below
// the logger's level cost one Enabled call.
func NewAccessLog(opts AccessLogOptions, logger *slog.Logger) (func(http.Handler) http.Handler, error) {
	if err := checked("accesslog", opts); err != nil {
		return nil, err
	}
	level, _ := opts.level()
	if opts.Message == "" {
		opts.Message = "http request"
	}
	if logger == nil {
		logger = slog.Default()
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw := httpwriter.New(w, nil)
			completed := false
			defer func() { // deferred, so that a panic going through is logged too (as a 500)
				status := cmp.Or(sw.Status(), http.StatusOK)
				if !completed {
					status = http.StatusInternalServerError
				}
				lvl := level
				if status >= 500 {
					lvl = slog.LevelError
				}
				ctx := r.Context()
				if !logger.Enabled(ctx, lvl) {
					return
				}
				logger.LogAttrs(ctx, lvl, opts.Message,
					slog.String("method", Clip(r.Method)),
					slog.String("path", Clip(r.URL.Path)),
					slog.String("pattern", r.Pattern),
					slog.Int("status", status),
					slog.Int64("bytes", sw.Written()),
					slog.Duration("duration", time.Since(start)),
					slog.String("request_id", RequestIDFrom(ctx)))
			}()
			next.ServeHTTP(sw, r)
			completed = true
		})
	}, nil
}

// MaxLogField is the most bytes of a field taken from the request (method,
// path) that the stock layers log; longer ones are cut and say so.
const MaxLogField = 1024

// Clip returns s if it is at most [MaxLogField] bytes long, else its first
// MaxLogField bytes and "…[truncated, N bytes]", N being len(s): for log
// fields taken from a request.
func Clip(s string) string {
	if len(s) <= MaxLogField {
		return s
	}
	return s[:MaxLogField] + "…[truncated, " + strconv.Itoa(len(s)) + " bytes]"
}
