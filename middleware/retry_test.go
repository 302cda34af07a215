package middleware_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/plykit/ply/middleware"
)

// flaky answers the statuses in order, one per attempt (200 once they run out), and
// records the body of each attempt.
type flaky struct {
	mu       sync.Mutex
	statuses []int
	bodies   []string
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.bodies = append(f.bodies, string(body))
	status := http.StatusOK
	if n := len(f.bodies); n <= len(f.statuses) {
		status = f.statuses[n-1]
	}
	f.mu.Unlock()
	w.Header().Set("Attempt-Status", http.StatusText(status))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, "attempt "+strconv.Itoa(len(f.bodies)))
}

func (f *flaky) attempts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.bodies...)
}

func TestRetry(t *testing.T) {
	opts := middleware.RetryOptions{MaxAttempts: 3, InitialInterval: time.Millisecond, MaxInterval: 2 * time.Millisecond}
	for _, tt := range []struct {
		name, method string
		headers      []string
		statuses     []int
		wantStatus   int
		wantAttempts int
		wantBody     string
	}{
		{name: "succeeds on third attempt", method: http.MethodPut, statuses: []int{503, 502}, wantStatus: 200, wantAttempts: 3, wantBody: "attempt 3"},
		{name: "stops at max attempts", method: http.MethodPut, statuses: []int{503, 503, 504, 503}, wantStatus: 504, wantAttempts: 3, wantBody: "attempt 3"},
		{name: "not retried on 500", method: http.MethodPut, statuses: []int{500}, wantStatus: 500, wantAttempts: 1, wantBody: "attempt 1"},
		{name: "POST not retried", method: http.MethodPost, statuses: []int{503}, wantStatus: 503, wantAttempts: 1, wantBody: "attempt 1"},
		{name: "POST with Idempotency-Key", method: http.MethodPost, headers: []string{"Idempotency-Key", "k1"}, statuses: []int{503}, wantStatus: 200, wantAttempts: 2, wantBody: "attempt 2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := &flaky{statuses: tt.statuses}
			srv := serve(t, must(middleware.NewRetry(opts))(t)(h))
			res := do(t, srv.Client(), newRequest(t, tt.method, srv.URL, strings.NewReader("payload"), tt.headers...))
			if res.status != tt.wantStatus || res.body != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", res.status, res.body, tt.wantStatus, tt.wantBody)
			}
			if got := res.header.Values("Attempt-Status"); len(got) != 1 {
				t.Errorf("Attempt-Status = %q, want the final attempt's header only", got)
			}
			want := make([]string, tt.wantAttempts)
			for i := range want {
				want[i] = "payload" // every attempt got the whole body
			}
			if diff := cmp.Diff(want, h.attempts()); diff != "" {
				t.Errorf("bodies per attempt (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRetryLargeBodyRunsOnce(t *testing.T) {
	h := &flaky{statuses: []int{503}}
	mw := must(middleware.NewRetry(middleware.RetryOptions{MaxBodyBytes: 4, InitialInterval: time.Millisecond}))(t)
	srv := serve(t, mw(h))
	res := do(t, srv.Client(), newRequest(t, http.MethodPut, srv.URL, strings.NewReader("too large")))
	if res.status != 503 || len(h.attempts()) != 1 || h.attempts()[0] != "too large" {
		t.Errorf("got %d after %q, want 503 after one attempt with the whole body", res.status, h.attempts())
	}
}

func TestRetryOptionsValidate(t *testing.T) {
	if _, err := middleware.NewRetry(middleware.RetryOptions{Statuses: []int{404}}); err == nil {
		t.Error("NewRetry accepted status 404")
	}
}
