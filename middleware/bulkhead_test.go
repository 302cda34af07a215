package middleware_test

import (
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/plykit/ply/middleware"
)

func TestBulkheadRejectsOverLimit(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	mw := must(middleware.NewBulkhead(middleware.BulkheadOptions{MaxConcurrent: 2}))(t)
	srv := serve(t, mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			entered <- struct{}{}
			<-release
		}
		w.WriteHeader(http.StatusOK)
	})))

	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if res := get(t, srv.Client(), srv.URL+"/block"); res.status != 200 {
				t.Errorf("admitted request: status %d, want 200", res.status)
			}
		})
	}
	<-entered
	<-entered
	res := get(t, srv.Client(), srv.URL+"/fast")
	if res.status != http.StatusServiceUnavailable || res.header.Get("Retry-After") != "1" {
		t.Errorf("third request: %d, Retry-After %q; want 503, \"1\"", res.status, res.header.Get("Retry-After"))
	}
	close(release)
	wg.Wait()
	if res := get(t, srv.Client(), srv.URL+"/fast"); res.status != 200 {
		t.Errorf("after release: status %d, want 200", res.status)
	}
}

func TestBulkheadQueuesUpToMaxWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		mw := must(middleware.NewBulkhead(middleware.BulkheadOptions{MaxConcurrent: 1, MaxWait: 5 * time.Second}))(t)
		client, shutdown := servePipe(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/block" {
				<-release
			}
			w.WriteHeader(http.StatusOK)
		})))
		defer shutdown()
		status := func(path string) chan int {
			c := make(chan int, 1)
			go func() { c <- get(t, client, "http://pipe"+path).status }()
			synctest.Wait() // the request is in the handler, or queued in the bulkhead
			return c
		}

		blocked := status("/block")
		start := time.Now()
		if s := <-status("/fast"); s != http.StatusServiceUnavailable || time.Since(start) != 5*time.Second {
			t.Errorf("queued past maxWait: status %d after %v, want 503 after 5s", s, time.Since(start))
		}
		queued := status("/fast")
		close(release)
		if s := <-queued; s != 200 {
			t.Errorf("queued request: status %d, want 200 once the slot is free", s)
		}
		if s := <-blocked; s != 200 {
			t.Errorf("first request: status %d, want 200", s)
		}
	})
}
