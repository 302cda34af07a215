package middleware_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/plykit/ply/middleware"
)

// switchable fails with 500 while failing is set.
type switchable struct {
	failing atomic.Bool
	runs    atomic.Int64
}

func (s *switchable) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	s.runs.Add(1)
	if s.failing.Load() {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func TestBreakerOpensAfterFailures(t *testing.T) {
	logger, logs := newLogger()
	b := must(middleware.NewBreaker(middleware.BreakerOptions{Failures: 3, Timeout: time.Minute}, logger))(t)
	h := &switchable{}
	h.failing.Store(true)
	srv := serve(t, route("GET /orders", b.Middleware()(h)))

	for i := range 3 {
		if res := get(t, srv.Client(), srv.URL+"/orders"); res.status != 500 {
			t.Fatalf("failure %d: status %d, want 500", i+1, res.status)
		}
	}
	if got := b.State("GET /orders"); got != "open" {
		t.Fatalf("State = %q after 3 failures, want open", got)
	}
	res := get(t, srv.Client(), srv.URL+"/orders")
	if res.status != http.StatusServiceUnavailable || res.header.Get("Retry-After") != "60" {
		t.Errorf("open: status %d, Retry-After %q; want 503, \"60\"", res.status, res.header.Get("Retry-After"))
	}
	if got := h.runs.Load(); got != 3 {
		t.Errorf("handler ran %d times, want 3 (not while open)", got)
	}
	recs := logs.records(t)
	if len(recs) != 1 || recs[0]["from"] != "closed" || recs[0]["to"] != "open" || recs[0]["breaker"] != "GET /orders" {
		t.Errorf("logged %v, want one closed→open change", recs)
	}
	if got := b.State("GET /other"); got != "closed" {
		t.Errorf("State of an unused route = %q, want closed", got)
	}
}

func TestBreakerHalfOpenUnderSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logger, logs := newLogger()
		b := must(middleware.NewBreaker(middleware.BreakerOptions{Name: "orders", Failures: 2, Timeout: 10 * time.Second}, logger))(t)
		h := &switchable{}
		h.failing.Store(true)
		client, shutdown := servePipe(b.Middleware()(h))
		defer shutdown()
		status := func() int { return get(t, client, "http://pipe/").status }

		status()
		status()
		if got := b.State("orders"); got != "open" {
			t.Fatalf("State = %q, want open", got)
		}
		time.Sleep(4 * time.Second)
		if res := get(t, client, "http://pipe/"); res.status != 503 || res.header.Get("Retry-After") != "6" {
			t.Errorf("open after 4s: %d, Retry-After %q; want 503, \"6\"", res.status, res.header.Get("Retry-After"))
		}
		time.Sleep(6*time.Second + time.Millisecond) // gobreaker half-opens strictly after the timeout
		if got := b.State("orders"); got != "half-open" {
			t.Fatalf("State after the timeout = %q, want half-open", got)
		}
		if s := status(); s != 500 { // the probe fails: open again
			t.Fatalf("failing probe: status %d, want 500", s)
		}
		if got := b.State("orders"); got != "open" {
			t.Fatalf("State after a failed probe = %q, want open", got)
		}
		time.Sleep(10*time.Second + time.Millisecond)
		h.failing.Store(false)
		if s := status(); s != 200 {
			t.Fatalf("succeeding probe: status %d, want 200", s)
		}
		if got := b.State("orders"); got != "closed" {
			t.Errorf("State after a good probe = %q, want closed", got)
		}
		var changes []string
		for _, r := range logs.records(t) {
			changes = append(changes, r["from"].(string)+"→"+r["to"].(string))
		}
		if got, want := strings.Join(changes, " "), "closed→open open→half-open half-open→open open→half-open half-open→closed"; got != want {
			t.Errorf("state changes = %s, want %s", got, want)
		}
	})
}

func TestBreakerCountsPanics(t *testing.T) {
	b := must(middleware.NewBreaker(middleware.BreakerOptions{Name: "p", Failures: 1}, discardLogger()))(t)
	rec := must(middleware.NewRecover(middleware.RecoverOptions{}, discardLogger()))(t)
	srv := serve(t, rec(b.Middleware()(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("x") }))))
	get(t, srv.Client(), srv.URL)
	if got := b.State("p"); got != "open" {
		t.Errorf("State after a panic = %q, want open", got)
	}
}
