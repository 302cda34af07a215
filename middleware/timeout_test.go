package middleware_test

import (
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/plykit/ply/middleware"
)

func TestTimeout(t *testing.T) {
	writeErr := make(chan error, 1)
	handlers := map[string]http.HandlerFunc{
		"/fast": func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "fast") },
		"/cooperative": func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done() // a handler that waits on a slow backend
			w.WriteHeader(http.StatusOK)
		},
		"/late": func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
			_, err := io.WriteString(w, "too late")
			writeErr <- err
		},
	}
	for _, tt := range []struct {
		path   string
		status int
		want   int
	}{
		{path: "/fast", want: 200},
		{path: "/cooperative", want: 503},
		{path: "/cooperative", status: 504, want: 504},
		{path: "/late", want: 503},
	} {
		t.Run(tt.path, func(t *testing.T) {
			mw := must(middleware.NewTimeout(middleware.TimeoutOptions{Timeout: 20 * time.Millisecond, Status: tt.status}))(t)
			srv := serve(t, mw(handlers[tt.path]))
			res := get(t, srv.Client(), srv.URL+tt.path)
			if res.status != tt.want {
				t.Errorf("status = %d, want %d (body %s)", res.status, tt.want, res.body)
			}
			if tt.path == "/late" {
				if err := <-writeErr; !errors.Is(err, http.ErrHandlerTimeout) {
					t.Errorf("late write: %v, want http.ErrHandlerTimeout", err)
				}
			}
		})
	}
}

func TestTimeoutOptionsValidate(t *testing.T) {
	if _, err := middleware.NewTimeout(middleware.TimeoutOptions{Status: 500}); err == nil {
		t.Error("NewTimeout accepted status 500")
	}
}
