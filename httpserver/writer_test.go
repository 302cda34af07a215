package httpserver_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/internal/httpwriter/httpwritertest"
	"github.com/plykit/ply/plytest"
)

// TestResponseWriter checks what a handler can do with the call's writer
// directly, by type assertion as pre-ResponseController code does, and what
// the host then answers.
func TestResponseWriter(t *testing.T) {
	long := strings.Repeat("x", 64<<10) // past net/http's sniffing, so ReadFrom reaches the connection
	for _, tt := range []struct {
		name      string
		handle    func(w http.ResponseWriter) error
		wantCode  int
		wantBody  string
		wantHints []string
	}{
		{
			name: "Flush by type assertion",
			handle: func(w http.ResponseWriter) error {
				_, _ = io.WriteString(w, "a")
				w.(http.Flusher).Flush()
				_, err := io.WriteString(w, "b")
				return err
			},
			wantCode: http.StatusOK, wantBody: "ab",
		},
		{
			name: "io.Copy takes ReadFrom",
			handle: func(w http.ResponseWriter) error {
				if _, ok := w.(io.ReaderFrom); !ok {
					return errors.New("no ReadFrom")
				}
				_, err := io.Copy(w, strings.NewReader(long))
				return err
			},
			wantCode: http.StatusOK, wantBody: long,
		},
		{
			name: "Hijack by type assertion",
			handle: func(w http.ResponseWriter) error {
				conn, buf, err := w.(http.Hijacker).Hijack()
				if err != nil {
					return err
				}
				defer func() { _ = conn.Close() }()
				_, _ = buf.WriteString("HTTP/1.1 418 I'm a teapot\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
				return buf.Flush()
			},
			wantCode: http.StatusTeapot, wantBody: "hijacked",
		},
		{
			// An interim response does not begin the final one: the host can
			// still answer the error.
			name: "an error after a 103 is answered",
			handle: func(w http.ResponseWriter) error {
				w.Header().Set("Link", "</a.css>; rel=preload")
				w.WriteHeader(http.StatusEarlyHints)
				return codedError{http.StatusConflict}
			},
			wantCode: http.StatusConflict, wantBody: `{"type":"about:blank","title":"Conflict","status":409}`,
			wantHints: []string{"103 </a.css>; rel=preload"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			handlerErr := make(chan error, 1) // the handler reports once
			h := plytest.New(t, nil, ply.WithLogger(discard()), ply.WithModules(ply.Module{Name: "api", Handlers: []ply.Handler{{
				Kind: ply.KindHTTP, Name: "GET /x",
				Func: func(_ context.Context, c *ply.Call) error {
					err := tt.handle(c.Response().(http.ResponseWriter))
					var coded codedError
					if errors.As(err, &coded) {
						handlerErr <- nil
						return err // for the host to answer
					}
					handlerErr <- err
					return nil
				},
			}}}))
			ch, err := h.Chain("api", "GET /x")
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(httpserver.Handler(ch))
			t.Cleanup(srv.Close)
			got := httpwritertest.Get(t, srv.Client(), srv.URL+"/x")
			if err := <-handlerErr; err != nil {
				t.Errorf("handler: %v", err)
			}
			want := httpwritertest.Response{Code: tt.wantCode, Body: tt.wantBody, Interim: tt.wantHints}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("response (-want +got):\n%.2000s", diff)
			}
		})
	}
}
