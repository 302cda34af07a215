package middleware_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/plykit/ply/middleware"
)

// cachedProxy serves, on 127.0.0.1, the cache in front of a reverse proxy to
// upstream (itself a real server on 127.0.0.1), with outer layers (outermost
// first) around the cache, as a host with auth (100) outside cache (400) has.
func cachedProxy(t *testing.T, opts middleware.CacheOptions, upstream http.Handler, outer ...func(http.Handler) http.Handler) (*middleware.Cache, *httptest.Server) {
	t.Helper()
	c := must(middleware.NewCache(opts))(t)
	t.Cleanup(func() { closeOK(t, c) })
	up := serve(t, upstream)
	target, err := url.Parse(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host // the cache keys by the host the client asked for
	}}
	h := c.Middleware()(proxy)
	for i := len(outer) - 1; i >= 0; i-- {
		h = outer[i](h)
	}
	return c, serve(t, h)
}

// aliceAndBob is an auth layer that knows the API keys of alice and bob.
func aliceAndBob(t *testing.T) *middleware.Auth {
	t.Helper()
	auth := must(middleware.NewAuth(middleware.AuthOptions{APIKeys: []middleware.APIKey{
		{Name: "alice", Key: "alice-key-0123456789"}, {Name: "bob", Key: "bob-key-00123456789"},
	}, ForwardCredentials: true}, nil, discardLogger()))(t) // the upstreams tell callers apart by their credential
	t.Cleanup(func() { closeOK(t, auth) })
	return auth
}

// A slow upstream answers each caller privately (Cache-Control: private, a
// session cookie). A second caller that arrives while the first one's response
// is computed must get its own response, never the first one's.
func TestCacheCoalescedPrivateResponsesStayPrivate(t *testing.T) {
	auth := aliceAndBob(t)
	for _, tt := range []struct {
		name          string
		outer         []func(http.Handler) http.Handler
		first, second []string // request header pairs
		wantSecond    string
	}{
		{name: "cookie then anonymous", first: []string{"Cookie", "sid=ALICE"}, wantSecond: "page of anonymous"},
		{name: "cookie then another cookie", first: []string{"Cookie", "sid=ALICE"}, second: []string{"Cookie", "sid=BOB"}, wantSecond: "page of BOB"},
		{name: "two bearer tokens", outer: []func(http.Handler) http.Handler{auth.Middleware()},
			first: []string{"Authorization", "Bearer alice-key-0123456789"}, second: []string{"Authorization", "Bearer bob-key-00123456789"},
			wantSecond: "page of bob"},
		{name: "two API keys", outer: []func(http.Handler) http.Handler{auth.Middleware()},
			first: []string{"X-API-Key", "alice-key-0123456789"}, second: []string{"X-API-Key", "bob-key-00123456789"},
			wantSecond: "page of bob"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			firstIn, secondIn := make(chan struct{}, 1), make(chan struct{}, 1)
			var runs atomic.Int64
			upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				who := "anonymous"
				if c, err := r.Cookie("sid"); err == nil {
					who = c.Value
				} else if k := r.Header.Get("X-API-Key") + r.Header.Get("Authorization"); k != "" {
					who = map[string]string{"alice-key-0123456789": "alice", "bob-key-00123456789": "bob",
						"Bearer alice-key-0123456789": "alice", "Bearer bob-key-00123456789": "bob"}[k]
				}
				if runs.Add(1) == 1 {
					// The first caller's response is slow: it is still being
					// computed when the second caller arrives. The bound only ends
					// the test when the second caller is (wrongly) held back.
					firstIn <- struct{}{}
					select {
					case <-time.After(10 * time.Second):
					case <-r.Context().Done():
					case <-secondIn:
					}
				} else {
					secondIn <- struct{}{}
				}
				w.Header().Set("Cache-Control", "private")
				w.Header().Set("Set-Cookie", "sid="+who)
				_, _ = fmt.Fprintf(w, "page of %s", who)
			})
			_, srv := cachedProxy(t, middleware.CacheOptions{TTL: time.Minute}, upstream, tt.outer...)
			first := make(chan response, 1)
			go func() { first <- get(t, srv.Client(), srv.URL+"/pub/me", tt.first...) }()
			<-firstIn // the first caller's response is being computed
			second := get(t, srv.Client(), srv.URL+"/pub/me", tt.second...)
			<-first
			if second.body != tt.wantSecond {
				t.Errorf("second caller got %q, want %q", second.body, tt.wantSecond)
			}
			if got, want := second.header.Get("Set-Cookie"), "sid="+tt.wantSecond[len("page of "):]; got != want {
				t.Errorf("second caller got Set-Cookie %q, want %q", got, want)
			}
		})
	}
}

// Two anonymous callers coalesce, but the response may not be stored (private):
// the waiter must compute its own instead of getting the leader's.
func TestCacheCoalescedUnstorableResponseIsNotShared(t *testing.T) {
	for _, cc := range []string{"private", "no-store", "no-cache"} {
		t.Run(cc, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := must(middleware.NewCache(middleware.CacheOptions{TTL: time.Minute}))(t)
				defer closeOK(t, c)
				release := make(chan struct{})
				var runs atomic.Int64
				h := c.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					n := runs.Add(1)
					if n == 1 {
						<-release
					}
					w.Header().Set("Cache-Control", cc)
					_, _ = fmt.Fprintf(w, "run %d", n)
				}))
				client, shutdown := servePipe(h)
				defer shutdown()
				bodies := make(chan string, 2)
				go func() { bodies <- get(t, client, "http://pipe/account").body }()
				synctest.Wait() // the first request is in the handler
				go func() { bodies <- get(t, client, "http://pipe/account").body }()
				synctest.Wait() // the second waits for the first's response
				close(release)
				got := map[string]bool{<-bodies: true, <-bodies: true}
				if !got["run 1"] || !got["run 2"] {
					t.Errorf("bodies %v, want run 1 and run 2: each caller its own", got)
				}
			})
		})
	}
}

// With API keys (and cookies) as credentials, alice's response is not stored,
// and so is not served to bob; a response that says public is shared.
func TestCacheAuthenticatedResponsesArePrivate(t *testing.T) {
	auth := aliceAndBob(t)
	for _, tt := range []struct {
		name         string
		cacheControl string
		alice, bob   []string
		wantBob      string
		wantXCache   string
	}{
		{name: "API keys", cacheControl: "max-age=60", alice: []string{"X-API-Key", "alice-key-0123456789"},
			bob: []string{"X-API-Key", "bob-key-00123456789"}, wantBob: "data of bob", wantXCache: "MISS"},
		{name: "bearer", cacheControl: "max-age=60", alice: []string{"Authorization", "Bearer alice-key-0123456789"},
			bob: []string{"Authorization", "Bearer bob-key-00123456789"}, wantBob: "data of bob", wantXCache: "MISS"},
		{name: "API key then bearer", cacheControl: "max-age=60", alice: []string{"X-API-Key", "alice-key-0123456789"},
			bob: []string{"Authorization", "Bearer bob-key-00123456789"}, wantBob: "data of bob", wantXCache: "MISS"},
		{name: "public is shared", cacheControl: "public, max-age=60", alice: []string{"X-API-Key", "alice-key-0123456789"},
			bob: []string{"X-API-Key", "bob-key-00123456789"}, wantBob: "data of alice", wantXCache: "HIT"},
		{name: "s-maxage is shared", cacheControl: "s-maxage=60", alice: []string{"X-API-Key", "alice-key-0123456789"},
			bob: []string{"X-API-Key", "bob-key-00123456789"}, wantBob: "data of alice", wantXCache: "HIT"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				who := map[string]string{"alice-key-0123456789": "alice", "bob-key-00123456789": "bob"}[r.Header.Get("X-API-Key")]
				if who == "" {
					who = map[string]string{"Bearer alice-key-0123456789": "alice", "Bearer bob-key-00123456789": "bob"}[r.Header.Get("Authorization")]
				}
				w.Header().Set("Cache-Control", tt.cacheControl)
				_, _ = fmt.Fprintf(w, "data of %s", who)
			})
			_, srv := cachedProxy(t, middleware.CacheOptions{TTL: time.Minute}, upstream, auth.Middleware())
			if res := get(t, srv.Client(), srv.URL+"/api/orders", tt.alice...); res.body != "data of alice" {
				t.Fatalf("alice got %q", res.body)
			}
			res := get(t, srv.Client(), srv.URL+"/api/orders", tt.bob...)
			if res.body != tt.wantBob || res.header.Get("X-Cache") != tt.wantXCache {
				t.Errorf("bob got %q with X-Cache %q, want %q with %s", res.body, res.header.Get("X-Cache"), tt.wantBob, tt.wantXCache)
			}
		})
	}
}

// Cookies are credentials too: an origin that forgets Vary: Cookie does not
// leak one session's page to another.
func TestCacheCookieRequestsArePrivate(t *testing.T) {
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sid, _ := r.Cookie("sid")
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = fmt.Fprintf(w, "cart of %s", sid.Value)
	})
	_, srv := cachedProxy(t, middleware.CacheOptions{}, upstream)
	get(t, srv.Client(), srv.URL+"/cart", "Cookie", "sid=ALICE")
	if res := get(t, srv.Client(), srv.URL+"/cart", "Cookie", "sid=BOB"); res.body != "cart of BOB" {
		t.Errorf("BOB got %q (X-Cache %s), want his own cart", res.body, res.header.Get("X-Cache"))
	}
}
