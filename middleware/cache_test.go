package middleware_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plykit/ply/middleware"
)

// counting answers with the number of times it ran, and lets a test set response
// headers through the query: /?cc=no-store sets Cache-Control.
type counting struct{ runs atomic.Int64 }

func (c *counting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := c.runs.Add(1)
	q := r.URL.Query()
	if v := q.Get("cc"); v != "" {
		w.Header().Set("Cache-Control", v)
	}
	if v := q.Get("tag"); v != "" {
		w.Header().Set("Cache-Tag", v)
	}
	if v := q.Get("ctxtag"); v != "" {
		middleware.AddCacheTags(r.Context(), v)
	}
	if q.Get("cookie") != "" {
		w.Header().Set("Set-Cookie", "session=1")
	}
	if v := q.Get("status"); v != "" {
		status, _ := strconv.Atoi(v)
		w.WriteHeader(status)
	}
	if q.Get("big") != "" {
		_, _ = w.Write(make([]byte, 2048))
	}
	if v := q.Get("vary"); v != "" {
		w.Header().Set("Vary", v)
		w.Header().Set("Content-Language", r.Header.Get(v))
	}
	_, _ = fmt.Fprintf(w, "run %d", n)
}

func newCache(t *testing.T, opts middleware.CacheOptions) (*middleware.Cache, *counting, string, *http.Client) {
	t.Helper()
	c := must(middleware.NewCache(opts))(t)
	t.Cleanup(func() { closeOK(t, c) })
	h := &counting{}
	srv := serve(t, c.Middleware()(h))
	return c, h, srv.URL, srv.Client()
}

func TestCacheHitAfterMiss(t *testing.T) {
	c, h, url, client := newCache(t, middleware.CacheOptions{TTL: time.Minute})

	first := get(t, client, url+"/items?b=2&a=1")
	second := get(t, client, url+"/items?a=1&b=2") // same query, other order
	if first.header.Get("X-Cache") != "MISS" || second.header.Get("X-Cache") != "HIT" {
		t.Fatalf("X-Cache = %q then %q, want MISS then HIT", first.header.Get("X-Cache"), second.header.Get("X-Cache"))
	}
	if second.body != "run 1" || second.header.Get("Age") == "" {
		t.Errorf("hit: body %q, Age %q; want the first response with an Age", second.body, second.header.Get("Age"))
	}
	if get(t, client, url+"/items?a=1&b=3").header.Get("X-Cache") != "MISS" {
		t.Error("another query hit the cache")
	}
	head := do(t, client, newRequest(t, http.MethodHead, url+"/items?a=1&b=2", nil))
	if head.header.Get("X-Cache") != "MISS" {
		t.Error("HEAD was served from the GET entry")
	}
	post := do(t, client, newRequest(t, http.MethodPost, url+"/items?a=1&b=2", nil))
	if post.header.Get("X-Cache") != "" || post.body != fmt.Sprintf("run %d", h.runs.Load()) {
		t.Errorf("POST: X-Cache %q, body %q; want it uncached", post.header.Get("X-Cache"), post.body)
	}
	if got := c.Stats(); got.Hits != 1 || got.Misses != 3 {
		t.Errorf("Stats() = %+v, want 1 hit and 3 misses", got)
	}
}

func TestCacheControl(t *testing.T) {
	for _, tt := range []struct {
		name       string
		query      string
		reqHeaders []string
		wantRuns   int64 // after two requests
	}{
		{name: "request no-store", reqHeaders: []string{"Cache-Control", "no-store"}, wantRuns: 2},
		{name: "request no-cache", reqHeaders: []string{"Cache-Control", "no-cache"}, wantRuns: 2},
		{name: "request max-age=0", reqHeaders: []string{"Cache-Control", "max-age=0"}, wantRuns: 2},
		{name: "request max-age=60", reqHeaders: []string{"Cache-Control", "max-age=60"}, wantRuns: 1},
		{name: "response no-store", query: "?cc=no-store", wantRuns: 2},
		{name: "response private", query: "?cc=private,max-age=60", wantRuns: 2},
		{name: "response no-cache", query: "?cc=no-cache", wantRuns: 2},
		{name: "response max-age=0", query: "?cc=max-age=0", wantRuns: 2},
		{name: "response max-age", query: "?cc=max-age=60", wantRuns: 1},
		{name: "authorization without public", reqHeaders: []string{"Authorization", "Bearer x"}, wantRuns: 2},
		{name: "Set-Cookie", query: "?cookie=1", wantRuns: 2},
		{name: "status 500", query: "?status=500", wantRuns: 2},
		{name: "status 404", query: "?status=404", wantRuns: 1},
		{name: "body over maxBodyBytes", query: "?big=1", wantRuns: 2},
		{name: "authorization with public", query: "?cc=public,max-age=60", reqHeaders: []string{"Authorization", "Bearer x"}, wantRuns: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, h, url, client := newCache(t, middleware.CacheOptions{MaxBodyBytes: 1024, TTL: time.Minute})
			get(t, client, url+"/"+tt.query, tt.reqHeaders...)
			second := get(t, client, url+"/"+tt.query, tt.reqHeaders...)
			if got := h.runs.Load(); got != tt.wantRuns {
				t.Errorf("handler ran %d times, want %d (second X-Cache %q)", got, tt.wantRuns, second.header.Get("X-Cache"))
			}
		})
	}
}

func TestCacheStampede(t *testing.T) {
	c := must(middleware.NewCache(middleware.CacheOptions{TTL: time.Minute}))(t)
	defer closeOK(t, c)
	release := make(chan struct{})
	arrived := make(chan struct{})
	var runs atomic.Int64
	slow := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		runs.Add(1)
		<-release
		_, _ = w.Write([]byte("expensive"))
	})
	count := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			arrived <- struct{}{}
			next.ServeHTTP(w, r)
		})
	}
	srv := serve(t, count(c.Middleware()(slow)))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
	defer client.CloseIdleConnections()

	const n = 100
	var wg sync.WaitGroup
	bodies := make([]string, n)
	for i := range n {
		wg.Go(func() { bodies[i] = get(t, client, srv.URL+"/report").body })
	}
	for range n {
		<-arrived // every request has reached the cache layer
	}
	close(release)
	wg.Wait()
	if got := runs.Load(); got != 1 {
		t.Errorf("handler ran %d times for %d concurrent misses, want 1", got, n)
	}
	for i, b := range bodies {
		if b != "expensive" {
			t.Fatalf("request %d got %q, want \"expensive\"", i, b)
		}
	}
}

func TestCacheInvalidateTag(t *testing.T) {
	c, h, url, client := newCache(t, middleware.CacheOptions{TTL: time.Minute})

	get(t, client, url+"/p/1?tag=product-1,catalog")
	get(t, client, url+"/p/2?ctxtag=product-2")
	get(t, client, url+"/p/3?tag=catalog")
	for _, p := range []string{"/p/1?tag=product-1,catalog", "/p/2?ctxtag=product-2", "/p/3?tag=catalog"} {
		if res := get(t, client, url+p); res.header.Get("X-Cache") != "HIT" || res.header.Get("Cache-Tag") != "" {
			t.Fatalf("%s: X-Cache %q, Cache-Tag %q; want HIT with the tag header removed", p, res.header.Get("X-Cache"), res.header.Get("Cache-Tag"))
		}
	}

	c.InvalidateTag("product-1")
	c.InvalidateTag("product-2")
	for p, want := range map[string]string{"/p/1?tag=product-1,catalog": "MISS", "/p/2?ctxtag=product-2": "MISS", "/p/3?tag=catalog": "HIT"} {
		if got := get(t, client, url+p).header.Get("X-Cache"); got != want {
			t.Errorf("after invalidating product-1 and product-2, %s: X-Cache %q, want %q", p, got, want)
		}
	}
	c.InvalidateTag("catalog")
	for _, p := range []string{"/p/1?tag=product-1,catalog", "/p/3?tag=catalog"} {
		if got := get(t, client, url+p).header.Get("X-Cache"); got != "MISS" {
			t.Errorf("after invalidating catalog, %s: X-Cache %q, want MISS", p, got)
		}
	}
	if got := h.runs.Load(); got != 7 {
		t.Errorf("handler ran %d times, want 7", got)
	}
}

func TestCacheVary(t *testing.T) {
	_, h, url, client := newCache(t, middleware.CacheOptions{TTL: time.Minute})
	for _, tt := range []struct{ lang, xcache, body string }{
		{"de", "MISS", "run 1"},
		{"fr", "MISS", "run 2"},
		{"de", "HIT", "run 1"},
		{"fr", "HIT", "run 2"},
	} {
		res := get(t, client, url+"/?vary=Accept-Language", "Accept-Language", tt.lang)
		if res.header.Get("X-Cache") != tt.xcache || res.body != tt.body || res.header.Get("Content-Language") != tt.lang {
			t.Errorf("%s: X-Cache %q, body %q, lang %q; want %s, %q", tt.lang, res.header.Get("X-Cache"), res.body,
				res.header.Get("Content-Language"), tt.xcache, tt.body)
		}
	}
	if h.runs.Load() != 2 {
		t.Errorf("handler ran %d times, want 2", h.runs.Load())
	}
}

func TestCachePanicReachesEveryWaiter(t *testing.T) {
	c := must(middleware.NewCache(middleware.CacheOptions{}))(t)
	defer closeOK(t, c)
	rec := must(middleware.NewRecover(middleware.RecoverOptions{}, discardLogger()))(t)
	srv := serve(t, rec(c.Middleware()(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("broken") }))))
	if res := get(t, srv.Client(), srv.URL); res.status != 500 {
		t.Errorf("status = %d, want 500", res.status)
	}
}

func TestCacheOptionsValidate(t *testing.T) {
	if _, err := middleware.NewCache(middleware.CacheOptions{MaxBytes: -1}); err == nil {
		t.Error("NewCache accepted maxEntries -1")
	}
}

func TestCacheCancelledLeaderIsNotShared(t *testing.T) {
	c := must(middleware.NewCache(middleware.CacheOptions{TTL: time.Minute}))(t)
	defer closeOK(t, c)
	entered := make(chan struct{}, 1)
	arrived := make(chan struct{}, 2)
	var runs atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if runs.Add(1) == 1 {
			entered <- struct{}{}
			<-r.Context().Done() // the first client gives up
			_, _ = w.Write([]byte("cut"))
			return
		}
		_, _ = w.Write([]byte("full"))
	})
	count := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			arrived <- struct{}{}
			next.ServeHTTP(w, r)
		})
	}
	srv := serve(t, count(c.Middleware()(h)))

	ctx, cancel := context.WithCancel(t.Context())
	leaderDone := make(chan error, 1)
	go func() {
		req := newRequest(t, http.MethodGet, srv.URL+"/slow", nil).WithContext(ctx)
		res, err := srv.Client().Do(req)
		if err == nil {
			_ = res.Body.Close()
		}
		leaderDone <- err
	}()
	<-arrived
	<-entered
	follower := make(chan response, 1)
	go func() { follower <- get(t, srv.Client(), srv.URL+"/slow") }()
	<-arrived // the follower waits for the leader's run, or comes after it
	cancel()
	if err := <-leaderDone; err == nil {
		t.Error("the cancelled request succeeded")
	}
	res := <-follower
	if res.status != 200 || res.body != "full" {
		t.Errorf("follower got %d %q, want 200 \"full\" from its own run", res.status, res.body)
	}
	if get(t, srv.Client(), srv.URL+"/slow").body != "full" {
		t.Error("the cancelled run's response was stored")
	}
}

// Values of a varying header select the same response however they are split
// into lines and spaced.
func TestCacheVaryNormalisesLists(t *testing.T) {
	_, h, url, client := newCache(t, middleware.CacheOptions{TTL: time.Minute})
	get(t, client, url+"/?vary=Accept-Encoding", "Accept-Encoding", "gzip, br")
	for _, headers := range [][]string{
		{"Accept-Encoding", "gzip,br"},
		{"Accept-Encoding", " gzip ,  br "},
		{"Accept-Encoding", "gzip", "Accept-Encoding", "br"},
	} {
		if res := get(t, client, url+"/?vary=Accept-Encoding", headers...); res.header.Get("X-Cache") != "HIT" {
			t.Errorf("%q: X-Cache %q, want HIT", headers, res.header.Get("X-Cache"))
		}
	}
	if res := get(t, client, url+"/?vary=Accept-Encoding", "Accept-Encoding", "br, gzip"); res.header.Get("X-Cache") != "MISS" {
		t.Errorf("another order: X-Cache %q, want MISS", res.header.Get("X-Cache"))
	}
	if got := h.runs.Load(); got != 2 {
		t.Errorf("handler ran %d times, want 2", got)
	}
}

// Adopt hands a replacing cache the stored responses, tags included, unless
// the two would key, tag or keep responses differently.
func TestCacheAdopt(t *testing.T) {
	tests := []struct {
		name    string
		next    middleware.CacheOptions
		adopted int
	}{
		{name: "more memory", next: middleware.CacheOptions{TTL: time.Minute, MaxBytes: 128 << 20}, adopted: 2},
		{name: "other ttl", next: middleware.CacheOptions{TTL: time.Hour}},
		{name: "other vary", next: middleware.CacheOptions{TTL: time.Minute, Vary: []string{"Accept-Language"}}},
		{name: "bodies too large", next: middleware.CacheOptions{TTL: time.Minute, MaxBodyBytes: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, _, oldURL, oldClient := newCache(t, middleware.CacheOptions{TTL: time.Minute})
			get(t, oldClient, oldURL+"/p/1?tag=product-1")
			get(t, oldClient, oldURL+"/p/2?tag=catalog")

			c := must(middleware.NewCache(tt.next))(t)
			t.Cleanup(func() { closeOK(t, c) })
			if n := c.Adopt(old); n != tt.adopted {
				t.Fatalf("Adopt = %d, want %d", n, tt.adopted)
			}
			srv := serve(t, c.Middleware()(&counting{}))
			// The same site as before the hand-off: the host is part of the key.
			get := func(t *testing.T, path string) response {
				t.Helper()
				req := newRequest(t, http.MethodGet, srv.URL+path, nil)
				req.Host = strings.TrimPrefix(oldURL, "http://")
				return do(t, srv.Client(), req)
			}
			want := map[bool]string{true: "HIT", false: "MISS"}[tt.adopted > 0]
			for _, p := range []string{"/p/1?tag=product-1", "/p/2?tag=catalog"} {
				if got := get(t, p).header.Get("X-Cache"); got != want {
					t.Errorf("%s after the hand-off: X-Cache %q, want %q", p, got, want)
				}
			}
			if tt.adopted == 0 {
				return
			}
			c.InvalidateTag("product-1")
			for p, want := range map[string]string{"/p/1?tag=product-1": "MISS", "/p/2?tag=catalog": "HIT"} {
				if got := get(t, p).header.Get("X-Cache"); got != want {
					t.Errorf("after invalidating an adopted tag, %s: X-Cache %q, want %q", p, got, want)
				}
			}
		})
	}
}
