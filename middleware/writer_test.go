package middleware_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/plykit/ply/internal/httpwriter/httpwritertest"
	"github.com/plykit/ply/middleware"
)

// TestBufferingLayersWriter checks what the layers that hold a response back
// (retry, until the status shows it is not retried; cache, on a miss) let the
// handler do through its writer.
func TestBufferingLayersWriter(t *testing.T) {
	retry := must(middleware.NewRetry(middleware.RetryOptions{MaxAttempts: 2, InitialInterval: time.Millisecond}))(t)
	cache := must(middleware.NewCache(middleware.CacheOptions{}))(t)
	t.Cleanup(func() { closeOK(t, cache) })
	for _, tt := range []struct {
		name      string
		layer     func(http.Handler) http.Handler
		handle    func(w http.ResponseWriter, attempt int) error
		wantCode  int
		wantBody  string
		wantErr   []error // what handle returned, per attempt
		wantHints []string
	}{
		{
			name:  "retry: a hijack before the status is known is refused",
			layer: retry,
			handle: func(w http.ResponseWriter, attempt int) error {
				if attempt == 2 { // the last: the client's writer itself
					_, _ = io.WriteString(w, "second")
					return nil
				}
				_, _, err := http.NewResponseController(w).Hijack()
				w.WriteHeader(http.StatusServiceUnavailable)
				return err
			},
			wantCode: http.StatusOK, wantBody: "second",
			wantErr: []error{http.ErrNotSupported, nil},
		},
		{
			name:  "retry: a flush before any write sends a status that is not retried",
			layer: retry,
			handle: func(w http.ResponseWriter, _ int) error {
				w.Header().Set("Content-Type", "text/event-stream")
				if err := http.NewResponseController(w).Flush(); err != nil {
					return err
				}
				_, err := io.WriteString(w, "data: 1\n\n")
				return err
			},
			wantCode: http.StatusOK, wantBody: "data: 1\n\n",
			wantErr: []error{nil},
		},
		{
			name:  "retry: each attempt's interim responses go out",
			layer: retry,
			handle: func(w http.ResponseWriter, attempt int) error {
				w.Header().Set("Link", fmt.Sprintf("</%d.css>; rel=preload", attempt))
				w.WriteHeader(http.StatusEarlyHints)
				w.Header().Del("Link")
				if attempt == 1 {
					w.WriteHeader(http.StatusBadGateway)
				}
				_, err := io.WriteString(w, "ok")
				return err
			},
			wantCode: http.StatusOK, wantBody: "ok",
			wantErr:   []error{nil, nil},
			wantHints: []string{"103 </1.css>; rel=preload", "103 </2.css>; rel=preload"},
		},
		{
			name:  "cache: a hijack on a miss is refused",
			layer: cache.Middleware(),
			handle: func(w http.ResponseWriter, _ int) error {
				_, _, err := http.NewResponseController(w).Hijack()
				_, _ = io.WriteString(w, "recorded")
				return err
			},
			wantCode: http.StatusOK, wantBody: "recorded",
			wantErr: []error{http.ErrNotSupported},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var errs []error
			srv := serve(t, tt.layer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				mu.Lock()
				attempt := len(errs) + 1
				errs = append(errs, nil)
				mu.Unlock()
				err := tt.handle(w, attempt)
				mu.Lock()
				errs[attempt-1] = err
				mu.Unlock()
			})))
			got := httpwritertest.Get(t, srv.Client(), srv.URL+"/r")
			want := httpwritertest.Response{Code: tt.wantCode, Body: tt.wantBody, Interim: tt.wantHints}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(errs) != len(tt.wantErr) {
				t.Fatalf("%d attempts, want %d", len(errs), len(tt.wantErr))
			}
			for i, err := range errs {
				if !errors.Is(err, tt.wantErr[i]) {
					t.Errorf("attempt %d: err = %v, want %v", i+1, err, tt.wantErr[i])
				}
			}
		})
	}
}

// TestTimeoutCopy checks that io.Copy, which takes the writer's ReadFrom,
// is refused after the deadline as Write is.
func TestTimeoutCopy(t *testing.T) {
	copyErr := make(chan error, 1) // the handler reports once
	mw := must(middleware.NewTimeout(middleware.TimeoutOptions{Timeout: time.Millisecond}))(t)
	srv := serve(t, mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		_, err := io.Copy(w, struct{ io.Reader }{strings.NewReader("too late")})
		copyErr <- err
	})))
	res := get(t, srv.Client(), srv.URL)
	if err := <-copyErr; !errors.Is(err, http.ErrHandlerTimeout) {
		t.Errorf("late io.Copy: %v, want http.ErrHandlerTimeout", err)
	}
	if res.status != http.StatusServiceUnavailable {
		t.Errorf("status = %d, want 503", res.status)
	}
}

// TestBufferingLayersCopy checks io.Copy, which takes the writer's ReadFrom,
// through the layers that hold a response back: what they record and what
// reaches the client.
func TestBufferingLayersCopy(t *testing.T) {
	retry := must(middleware.NewRetry(middleware.RetryOptions{MaxAttempts: 2, InitialInterval: time.Millisecond}))(t)
	copyBody := func(w http.ResponseWriter, body string) error {
		n, err := io.Copy(w, struct{ io.Reader }{strings.NewReader(body)}) // no WriteTo: io.Copy takes ReadFrom
		if err == nil && n != int64(len(body)) {
			err = fmt.Errorf("copied %d bytes of %d", n, len(body))
		}
		return err
	}
	cacheable := func(body string) func(w http.ResponseWriter, _ int) error {
		return func(w http.ResponseWriter, _ int) error {
			w.Header().Set("Cache-Control", "max-age=600")
			return copyBody(w, body)
		}
	}
	for _, tt := range []struct {
		name         string
		layer        func(t *testing.T) func(http.Handler) http.Handler
		handle       func(w http.ResponseWriter, attempt int) error
		wantBodies   []string // of two GETs
		wantAttempts int      // handler runs for the two GETs
	}{
		{
			name:       "cache: a body within the limit is recorded and stored",
			layer:      cacheWith(middleware.CacheOptions{MaxBodyBytes: 8}),
			handle:     cacheable("12345678"),
			wantBodies: []string{"12345678", "12345678"}, wantAttempts: 1,
		},
		{
			name:       "cache: a body past the limit streams whole and is not stored",
			layer:      cacheWith(middleware.CacheOptions{MaxBodyBytes: 8}),
			handle:     cacheable("123456789"),
			wantBodies: []string{"123456789", "123456789"}, wantAttempts: 2,
		},
		{
			name:  "retry: a retried attempt's copy is discarded, the next one's streams",
			layer: func(*testing.T) func(http.Handler) http.Handler { return retry },
			handle: func(w http.ResponseWriter, attempt int) error {
				if attempt%2 == 1 {
					w.WriteHeader(http.StatusServiceUnavailable)
					return copyBody(w, "failed")
				}
				return copyBody(w, "copied")
			},
			wantBodies: []string{"copied", "copied"}, wantAttempts: 4,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			attempts := 0
			srv := serve(t, tt.layer(t)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				mu.Lock()
				attempts++
				attempt := attempts
				mu.Unlock()
				if err := tt.handle(w, attempt); err != nil {
					t.Errorf("attempt %d: %v", attempt, err)
				}
			})))
			var bodies []string
			for range 2 {
				got := httpwritertest.Get(t, srv.Client(), srv.URL+"/r")
				bodies = append(bodies, got.Body)
			}
			if diff := cmp.Diff(tt.wantBodies, bodies); diff != "" {
				t.Errorf("bodies (-want +got):\n%s", diff)
			}
			mu.Lock()
			defer mu.Unlock()
			if attempts != tt.wantAttempts {
				t.Errorf("the handler ran %d times, want %d", attempts, tt.wantAttempts)
			}
		})
	}
}

// cacheWith returns a function that makes a cache with opts, closed when the
// test ends, and returns its layer.
func cacheWith(opts middleware.CacheOptions) func(t *testing.T) func(http.Handler) http.Handler {
	return func(t *testing.T) func(http.Handler) http.Handler {
		t.Helper()
		c := must(middleware.NewCache(opts))(t)
		t.Cleanup(func() { closeOK(t, c) })
		return c.Middleware()
	}
}
