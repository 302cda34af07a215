package middleware

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/plykit/ply/internal/httpwriter"
)

// RecoverOptions configures [NewRecover]. The zero value logs as "recover".
type RecoverOptions struct {
	// Name identifies the layer (usually the plugin's name) in the log. Default "recover".
	Name string `json:"name,omitempty" jsonschema:"maxLength=128"`
}

// NewRecover returns a layer that turns a panic in the inner chain into a 500
// response with an application/problem+json body, and logs it at error level with
// the attributes layer, method, path, panic and stack. A nil logger means
// [slog.Default].
//
// A panic with [http.ErrAbortHandler] is passed on, as net/http expects: the server
// then aborts the response without logging. When the handler had already written
// the status line, the 500 cannot be sent and the response is cut short instead.
func NewRecover(opts RecoverOptions, logger *slog.Logger) (func(http.Handler) http.Handler, error) {
	if opts.Name == "" {
		opts.Name = "recover"
	}
	if logger == nil {
		logger = slog.Default()
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sw := httpwriter.New(w, nil)
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v)
				}
				logger.LogAttrs(r.Context(), slog.LevelError, "panic in handler",
					slog.String("layer", opts.Name),
					slog.String("method", Clip(r.Method)),
					slog.String("path", Clip(r.URL.Path)),
					slog.String("panic", fmt.Sprint(v)),
					slog.String("stack", string(debug.Stack())))
				if sw.Status() != 0 {
					panic(http.ErrAbortHandler) // the status line is gone: abort the response
				}
				WriteProblem(w, http.StatusInternalServerError, "")
			}()
			next.ServeHTTP(sw, r)
		})
	}, nil
}
