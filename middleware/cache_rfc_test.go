package middleware_test

// Each test here checks one rule of RFC 9111 (and RFC 9213) through a real
// reverse proxy to a real upstream, both on 127.0.0.1.

import (
	"fmt"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/plykit/ply/middleware"
)

// origin is an upstream whose answers a test sets per path; it counts the
// requests it answered and keeps the last request's header.
type origin struct {
	mu      sync.Mutex
	answers map[string]func(w http.ResponseWriter, r *http.Request)
	last    http.Header
	runs    atomic.Int64
}

func newOrigin() *origin {
	return &origin{answers: map[string]func(http.ResponseWriter, *http.Request){}}
}

func (o *origin) on(path string, f func(w http.ResponseWriter, r *http.Request)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.answers[path] = f
}

func (o *origin) lastHeader() http.Header {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last
}

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := o.runs.Add(1)
	o.mu.Lock()
	f := o.answers[r.URL.Path]
	o.last = r.Header.Clone()
	o.mu.Unlock()
	w.Header().Set("X-Run", strconv.FormatInt(n, 10))
	if f != nil {
		f(w, r)
	}
	if r.Method == http.MethodGet {
		_, _ = fmt.Fprintf(w, "run %d", n)
	}
}

// headers answers with the given header pairs (and then "run N").
func headers(pairs ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(pairs); i += 2 {
			w.Header().Add(pairs[i], pairs[i+1])
		}
	}
}

func TestCacheInvalidatesAfterUnsafeMethods(t *testing.T) {
	for _, tt := range []struct {
		name, method, path string
		status             int
		respHeaders        []string
		wantA, wantB       string // X-Cache of /a and /b afterwards
	}{
		{name: "POST", method: http.MethodPost, path: "/a", status: 200, wantA: "MISS", wantB: "HIT"},
		{name: "PUT", method: http.MethodPut, path: "/a", status: 204, wantA: "MISS", wantB: "HIT"},
		{name: "DELETE", method: http.MethodDelete, path: "/a", status: 200, wantA: "MISS", wantB: "HIT"},
		{name: "PATCH", method: http.MethodPatch, path: "/a", status: 200, wantA: "MISS", wantB: "HIT"},
		{name: "POST redirected", method: http.MethodPost, path: "/a", status: 303, wantA: "MISS", wantB: "HIT"},
		{name: "failed POST", method: http.MethodPost, path: "/a", status: 500, wantA: "HIT", wantB: "HIT"},
		{name: "Location", method: http.MethodPost, path: "/c", status: 201, respHeaders: []string{"Location", "/b"}, wantA: "HIT", wantB: "MISS"},
		{name: "relative Content-Location", method: http.MethodPut, path: "/c", status: 200, respHeaders: []string{"Content-Location", "b"}, wantA: "HIT", wantB: "MISS"},
		{name: "Location on another host", method: http.MethodPost, path: "/c", status: 201, respHeaders: []string{"Location", "http://elsewhere.test/b"}, wantA: "HIT", wantB: "HIT"},
		{name: "OPTIONS", method: http.MethodOptions, path: "/a", status: 200, wantA: "HIT", wantB: "HIT"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := newOrigin()
			for _, p := range []string{"/a", "/b", "/c"} {
				o.on(p, func(w http.ResponseWriter, r *http.Request) {
					if r.Method != http.MethodGet {
						for i := 0; i+1 < len(tt.respHeaders); i += 2 {
							w.Header().Set(tt.respHeaders[i], tt.respHeaders[i+1])
						}
						w.WriteHeader(tt.status)
						return
					}
					w.Header().Set("Cache-Control", "max-age=600")
				})
			}
			_, srv := cachedProxy(t, middleware.CacheOptions{}, o)
			for _, p := range []string{"/a", "/b"} {
				get(t, srv.Client(), srv.URL+p)
				if got := get(t, srv.Client(), srv.URL+p).header.Get("X-Cache"); got != "HIT" {
					t.Fatalf("%s: X-Cache %q before the %s, want HIT", p, got, tt.method)
				}
			}
			res := do(t, srv.Client(), newRequest(t, tt.method, srv.URL+tt.path, nil))
			if res.status != tt.status {
				t.Fatalf("%s %s: status %d, want %d", tt.method, tt.path, res.status, tt.status)
			}
			if got := get(t, srv.Client(), srv.URL+"/a").header.Get("X-Cache"); got != tt.wantA {
				t.Errorf("/a after %s %s: X-Cache %q, want %q", tt.method, tt.path, got, tt.wantA)
			}
			if got := get(t, srv.Client(), srv.URL+"/b").header.Get("X-Cache"); got != tt.wantB {
				t.Errorf("/b after %s %s: X-Cache %q, want %q", tt.method, tt.path, got, tt.wantB)
			}
		})
	}
}

// Invalidation reaches every variant of a URL that varies.
func TestCacheInvalidatesEveryVariant(t *testing.T) {
	o := newOrigin()
	o.on("/doc", headers("Cache-Control", "max-age=600", "Vary", "Accept-Language"))
	_, srv := cachedProxy(t, middleware.CacheOptions{}, o)
	for _, lang := range []string{"de", "fr", "de", "fr"} {
		get(t, srv.Client(), srv.URL+"/doc?v=1", "Accept-Language", lang)
	}
	do(t, srv.Client(), newRequest(t, http.MethodDelete, srv.URL+"/doc?v=1", nil))
	for _, lang := range []string{"de", "fr"} {
		if got := get(t, srv.Client(), srv.URL+"/doc?v=1", "Accept-Language", lang).header.Get("X-Cache"); got != "MISS" {
			t.Errorf("%s variant after DELETE: X-Cache %q, want MISS", lang, got)
		}
	}
}

// The Age an upstream sends counts toward freshness, and the Age sent on a hit
// starts from it.
func TestCacheAgeFromUpstream(t *testing.T) {
	o := newOrigin()
	o.on("/old", headers("Cache-Control", "max-age=60", "Age", "100"))
	o.on("/aged", headers("Cache-Control", "max-age=600", "Age", "30"))
	_, srv := cachedProxy(t, middleware.CacheOptions{TTL: time.Hour}, o)

	get(t, srv.Client(), srv.URL+"/old")
	if res := get(t, srv.Client(), srv.URL+"/old"); res.header.Get("X-Cache") != "MISS" || res.body != "run 2" {
		t.Errorf("a response 100 s old with max-age=60: X-Cache %q, body %q; want it refetched", res.header.Get("X-Cache"), res.body)
	}
	get(t, srv.Client(), srv.URL+"/aged")
	res := get(t, srv.Client(), srv.URL+"/aged")
	age, err := strconv.Atoi(res.header.Get("Age"))
	if res.header.Get("X-Cache") != "HIT" || err != nil || age < 30 || age > 40 {
		t.Errorf("hit of a response 30 s old: X-Cache %q, Age %q; want HIT with Age 30 or a little more", res.header.Get("X-Cache"), res.header.Get("Age"))
	}
}

// The Age of a hit grows with the time the response spent stored, and the
// response turns stale when its age reaches max-age.
func TestCacheAgeAdvances(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := must(middleware.NewCache(middleware.CacheOptions{}))(t)
		defer closeOK(t, c)
		o := newOrigin()
		o.on("/", headers("Cache-Control", "max-age=100", "Age", "10"))
		client, shutdown := servePipe(c.Middleware()(o))
		defer shutdown()
		get(t, client, "http://pipe/")
		time.Sleep(60 * time.Second)
		if res := get(t, client, "http://pipe/"); res.header.Get("X-Cache") != "HIT" || res.header.Get("Age") != "70" {
			t.Errorf("60 s after storing a response 10 s old: X-Cache %q, Age %q; want HIT with Age 70", res.header.Get("X-Cache"), res.header.Get("Age"))
		}
		time.Sleep(30 * time.Second)
		if res := get(t, client, "http://pipe/"); res.header.Get("X-Cache") != "MISS" || res.body != "run 2" {
			t.Errorf("at age 100 with max-age=100: X-Cache %q, body %q; want it refetched", res.header.Get("X-Cache"), res.body)
		}
	})
}

func TestCacheFreshnessSources(t *testing.T) {
	now := time.Now()
	date := now.UTC().Format(http.TimeFormat)
	for _, tt := range []struct {
		name    string
		headers []string
		ttl     time.Duration
		wantHit bool
	}{
		{name: "Expires in an hour", headers: []string{"Date", date, "Expires", now.Add(time.Hour).UTC().Format(http.TimeFormat)}, wantHit: true},
		{name: "Expires in the past", headers: []string{"Date", date, "Expires", now.Add(-time.Hour).UTC().Format(http.TimeFormat)}},
		{name: "Expires in the past, with a TTL", headers: []string{"Date", date, "Expires", now.Add(-time.Hour).UTC().Format(http.TimeFormat)}, ttl: time.Hour},
		{name: "invalid Expires", headers: []string{"Expires", "0"}},
		{name: "Expires equal to Date", headers: []string{"Date", date, "Expires", date}},
		{name: "max-age over a past Expires", headers: []string{"Cache-Control", "max-age=600", "Expires", now.Add(-time.Hour).UTC().Format(http.TimeFormat)}, wantHit: true},
		{name: "s-maxage=0 over max-age", headers: []string{"Cache-Control", "max-age=600, s-maxage=0"}},
		{name: "no freshness information", headers: nil},
		{name: "no freshness information, with a TTL", headers: nil, ttl: time.Hour, wantHit: true},
		{name: "heuristic from Last-Modified", headers: []string{"Date", date, "Last-Modified", now.Add(-10 * 24 * time.Hour).UTC().Format(http.TimeFormat)}, wantHit: true},
		{name: "no heuristic for a 302", headers: []string{"Status", "302", "Location", "/x", "Last-Modified", now.Add(-10 * 24 * time.Hour).UTC().Format(http.TimeFormat)}},
		{name: "public allows a heuristic for a 302", headers: []string{"Status", "302", "Location", "/x", "Cache-Control", "public", "Last-Modified", now.Add(-10 * 24 * time.Hour).UTC().Format(http.TimeFormat)}, wantHit: true},
		{name: "invalid max-age", headers: []string{"Cache-Control", "max-age=soon"}, ttl: time.Hour},
		{name: "Expires in RFC 850 format", headers: []string{"Date", date, "Expires", now.Add(time.Hour).UTC().Format(time.RFC850)}, wantHit: true},
		{name: "Expires in asctime format", headers: []string{"Date", date, "Expires", now.Add(time.Hour).UTC().Format(time.ANSIC)}, wantHit: true},
		{name: "Expires with a one-digit hour", headers: []string{"Date", date, "Expires", "Thu, 18 Aug 2050 2:01:18 GMT"}},
		{name: "Expires with doubled spaces", headers: []string{"Date", date, "Expires", "Thu, 18  Aug  2050 02:01:18 GMT"}},
		{name: "Expires in UTC, not GMT", headers: []string{"Date", date, "Expires", "Thu, 18 Aug 2050 02:01:18 UTC"}},
		{name: "two Expires", headers: []string{"Date", date, "Expires", "Thu, 18 Aug 2050 02:01:18 GMT", "Expires", "Thu, 18 Aug 2050 02:01:19 GMT"}},
		{name: "must-understand, unknown status", headers: []string{"Status", "599", "Cache-Control", "max-age=600, no-store, must-understand"}},
		{name: "must-understand, known status", headers: []string{"Cache-Control", "max-age=600, no-store, must-understand"}, wantHit: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := newOrigin()
			o.on("/r", func(w http.ResponseWriter, _ *http.Request) {
				status := http.StatusOK
				for i := 0; i+1 < len(tt.headers); i += 2 {
					if tt.headers[i] == "Status" {
						status, _ = strconv.Atoi(tt.headers[i+1])
						continue
					}
					w.Header().Add(tt.headers[i], tt.headers[i+1])
				}
				w.WriteHeader(status)
			})
			_, srv := cachedProxy(t, middleware.CacheOptions{TTL: tt.ttl}, o)
			client := noRedirects(srv.Client())
			get(t, client, srv.URL+"/r")
			res := get(t, client, srv.URL+"/r")
			if hit := res.header.Get("X-Cache") == "HIT"; hit != tt.wantHit {
				t.Errorf("second request: X-Cache %q, want hit %v", res.header.Get("X-Cache"), tt.wantHit)
			}
		})
	}
}

func noRedirects(c *http.Client) *http.Client {
	cc := *c
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cc
}

// A stale response with a validator is revalidated with a conditional request;
// a 304 refreshes the stored header fields and the stored body is served.
func TestCacheRevalidates(t *testing.T) {
	lastModified := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	for _, tt := range []struct {
		name            string
		validator       []string
		condition, want string // the conditional header the origin must get, and its value
	}{
		{name: "ETag", validator: []string{"ETag", `"v1"`}, condition: "If-None-Match", want: `"v1"`},
		{name: "weak ETag", validator: []string{"ETag", `W/"v1"`}, condition: "If-None-Match", want: `W/"v1"`},
		{name: "Last-Modified", validator: []string{"Last-Modified", lastModified}, condition: "If-Modified-Since", want: lastModified},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := newOrigin()
			o.on("/r", func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get(tt.condition) == tt.want {
					w.Header().Set("Cache-Control", "max-age=600")
					w.Header().Set("X-Updated", "yes")
					w.Header().Set(tt.validator[0], tt.validator[1])
					w.WriteHeader(http.StatusNotModified)
					return
				}
				w.Header().Set("Cache-Control", "max-age=0")
				w.Header().Set(tt.validator[0], tt.validator[1])
			})
			_, srv := cachedProxy(t, middleware.CacheOptions{}, o)
			get(t, srv.Client(), srv.URL+"/r")
			second := get(t, srv.Client(), srv.URL+"/r")
			if got := o.lastHeader().Get(tt.condition); got != tt.want {
				t.Errorf("revalidation sent %s %q, want %q", tt.condition, got, tt.want)
			}
			if second.status != 200 || second.body != "run 1" || second.header.Get("X-Updated") != "yes" {
				t.Errorf("after a 304: %d %q, X-Updated %q; want 200 \"run 1\" with the 304's header", second.status, second.body, second.header.Get("X-Updated"))
			}
			third := get(t, srv.Client(), srv.URL+"/r")
			if third.header.Get("X-Cache") != "HIT" || third.body != "run 1" || third.header.Get("Cache-Control") != "max-age=600" {
				t.Errorf("after the 304 made it fresh: X-Cache %q, body %q, Cache-Control %q; want a hit with the new Cache-Control",
					third.header.Get("X-Cache"), third.body, third.header.Get("Cache-Control"))
			}
			if n := o.runs.Load(); n != 2 {
				t.Errorf("origin answered %d requests, want 2", n)
			}
		})
	}
}

// must-revalidate keeps a stale response from being served even to a client that
// accepts stale responses; without it, max-stale is honoured.
func TestCacheMustRevalidate(t *testing.T) {
	for _, tt := range []struct {
		cacheControl string
		wantHit      bool
	}{
		{"max-age=0, must-revalidate", false},
		{"max-age=0, proxy-revalidate", false},
		{"s-maxage=0", false},
		{"max-age=0", true},
	} {
		t.Run(tt.cacheControl, func(t *testing.T) {
			o := newOrigin()
			o.on("/r", headers("Cache-Control", tt.cacheControl, "ETag", `"v1"`))
			_, srv := cachedProxy(t, middleware.CacheOptions{}, o)
			get(t, srv.Client(), srv.URL+"/r")
			res := get(t, srv.Client(), srv.URL+"/r", "Cache-Control", "max-stale=600")
			if hit := res.header.Get("X-Cache") == "HIT"; hit != tt.wantHit {
				t.Errorf("stale response, request max-stale=600: X-Cache %q, want hit %v", res.header.Get("X-Cache"), tt.wantHit)
			}
			if !tt.wantHit && o.lastHeader().Get("If-None-Match") != `"v1"` {
				t.Errorf("the origin got If-None-Match %q, want a revalidation", o.lastHeader().Get("If-None-Match"))
			}
		})
	}
}

// A fresh stored response answers the client's own conditional request.
func TestCacheAnswersConditionalRequests(t *testing.T) {
	o := newOrigin()
	o.on("/r", headers("Cache-Control", "max-age=600", "ETag", `"v1"`))
	_, srv := cachedProxy(t, middleware.CacheOptions{}, o)
	get(t, srv.Client(), srv.URL+"/r")
	if res := get(t, srv.Client(), srv.URL+"/r", "If-None-Match", `"v0", "v1"`); res.status != http.StatusNotModified || res.header.Get("X-Cache") != "HIT" {
		t.Errorf("If-None-Match with the stored ETag: %d, X-Cache %q; want 304 from the cache", res.status, res.header.Get("X-Cache"))
	}
	if res := get(t, srv.Client(), srv.URL+"/r", "If-None-Match", `"v0"`); res.status != http.StatusOK || res.body != "run 1" {
		t.Errorf("If-None-Match with another ETag: %d %q, want the stored 200", res.status, res.body)
	}
}

func TestCacheRequestDirectives(t *testing.T) {
	for _, tt := range []struct {
		name       string
		reqHeaders []string
		wantStatus int
		wantXCache string
	}{
		{name: "only-if-cached, stored", reqHeaders: []string{"Cache-Control", "only-if-cached"}, wantStatus: 200, wantXCache: "HIT"},
		{name: "min-fresh within", reqHeaders: []string{"Cache-Control", "min-fresh=10"}, wantStatus: 200, wantXCache: "HIT"},
		{name: "min-fresh beyond", reqHeaders: []string{"Cache-Control", "min-fresh=6000"}, wantStatus: 200, wantXCache: "MISS"},
		{name: "Pragma no-cache", reqHeaders: []string{"Pragma", "no-cache"}, wantStatus: 200, wantXCache: "MISS"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := newOrigin()
			o.on("/r", headers("Cache-Control", "max-age=600"))
			_, srv := cachedProxy(t, middleware.CacheOptions{}, o)
			get(t, srv.Client(), srv.URL+"/r")
			res := get(t, srv.Client(), srv.URL+"/r", tt.reqHeaders...)
			if res.status != tt.wantStatus || res.header.Get("X-Cache") != tt.wantXCache {
				t.Errorf("%v: %d, X-Cache %q; want %d, %s", tt.reqHeaders, res.status, res.header.Get("X-Cache"), tt.wantStatus, tt.wantXCache)
			}
		})
	}
	t.Run("only-if-cached, not stored", func(t *testing.T) {
		o := newOrigin()
		_, srv := cachedProxy(t, middleware.CacheOptions{}, o)
		res := get(t, srv.Client(), srv.URL+"/r", "Cache-Control", "only-if-cached")
		if res.status != http.StatusGatewayTimeout || o.runs.Load() != 0 {
			t.Errorf("only-if-cached without a stored response: %d after %d origin requests, want 504 and none", res.status, o.runs.Load())
		}
	})
}

// Any final status is stored when its freshness is explicit (RFC 9111 §3), also
// one the cache does not know; partial content is not.
func TestCacheStoresStatuses(t *testing.T) {
	for _, tt := range []struct {
		status  int
		wantHit bool
	}{
		{200, true}, {203, true}, {204, true}, {299, true}, {300, true}, {301, true}, {302, true}, {303, true},
		{307, true}, {308, true}, {400, true}, {403, true}, {404, true}, {405, true}, {410, true}, {414, true},
		{500, true}, {501, true}, {502, true}, {503, true}, {504, true}, {206, false}, {599, true},
	} {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			o := newOrigin()
			o.on("/r", func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Cache-Control", "max-age=600")
				if tt.status == http.StatusPartialContent {
					w.Header().Set("Content-Range", "bytes 0-4/10")
				}
				w.WriteHeader(tt.status)
			})
			_, srv := cachedProxy(t, middleware.CacheOptions{}, o)
			client := noRedirects(srv.Client())
			first := get(t, client, srv.URL+"/r")
			second := get(t, client, srv.URL+"/r")
			if hit := second.header.Get("X-Cache") == "HIT"; hit != tt.wantHit || second.status != tt.status {
				t.Errorf("%d with max-age: second request %d, X-Cache %q; want hit %v", tt.status, second.status, second.header.Get("X-Cache"), tt.wantHit)
			}
			if tt.wantHit && second.body != first.body {
				t.Errorf("hit body %q, want %q", second.body, first.body)
			}
		})
	}
}

// CDN-Cache-Control (RFC 9213) replaces Cache-Control and Expires for the cache,
// and is passed on.
func TestCacheCDNCacheControl(t *testing.T) {
	for _, tt := range []struct {
		name    string
		headers []string
		wantHit bool
	}{
		{name: "max-age over no-store", headers: []string{"CDN-Cache-Control", "max-age=600", "Cache-Control", "no-store"}, wantHit: true},
		{name: "private", headers: []string{"CDN-Cache-Control", "private", "Cache-Control", "max-age=600"}},
		{name: "no-store", headers: []string{"CDN-Cache-Control", "no-store", "Cache-Control", "max-age=600"}},
		{name: "max-age=0 over max-age", headers: []string{"CDN-Cache-Control", "max-age=0", "Cache-Control", "max-age=600"}},
		{name: "Expires ignored", headers: []string{"CDN-Cache-Control", "public", "Expires", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}},
		{name: "invalid: quoted max-age", headers: []string{"CDN-Cache-Control", `max-age="600"`, "Cache-Control", "no-store"}},
		{name: "invalid: not a dictionary", headers: []string{"CDN-Cache-Control", "max-age=600, &&&", "Cache-Control", "no-store"}},
		{name: "invalid: space before =", headers: []string{"CDN-Cache-Control", "max-age =600", "Cache-Control", "no-store"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := newOrigin()
			o.on("/r", headers(tt.headers...))
			_, srv := cachedProxy(t, middleware.CacheOptions{}, o)
			first := get(t, srv.Client(), srv.URL+"/r")
			if first.header.Get("CDN-Cache-Control") == "" {
				t.Error("CDN-Cache-Control was not passed on")
			}
			res := get(t, srv.Client(), srv.URL+"/r")
			if hit := res.header.Get("X-Cache") == "HIT"; hit != tt.wantHit {
				t.Errorf("second request: X-Cache %q, want hit %v", res.header.Get("X-Cache"), tt.wantHit)
			}
		})
	}
}

// A 103 Early Hints from the upstream reaches the client on a miss.
func TestCacheForwardsInterimResponses(t *testing.T) {
	o := newOrigin()
	o.on("/r", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("Cache-Control", "max-age=600")
	})
	_, srv := cachedProxy(t, middleware.CacheOptions{}, o)
	var mu sync.Mutex
	var hints []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		mu.Lock()
		defer mu.Unlock()
		hints = append(hints, fmt.Sprint(code, " ", h.Get("Link")))
		return nil
	}}
	req := newRequest(t, http.MethodGet, srv.URL+"/r", nil)
	res := do(t, srv.Client(), req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	mu.Lock()
	defer mu.Unlock()
	if len(hints) != 1 || hints[0] != "103 </style.css>; rel=preload; as=style" {
		t.Errorf("interim responses %q, want one 103 with the Link", hints)
	}
	if res.status != 200 || res.header.Get("Link") != "" || res.header.Get("X-Cache") != "MISS" {
		t.Errorf("final response %d, Link %q, X-Cache %q; want 200 MISS without the hint's Link", res.status, res.header.Get("Link"), res.header.Get("X-Cache"))
	}
}

// A stale stored response stands in when the origin cannot be reached (502,
// 504), or fails within stale-if-error, unless must-revalidate forbids it.
func TestCacheServesStaleWhenOriginFails(t *testing.T) {
	for _, tt := range []struct {
		name, cacheControl string
		status             int
		wantStatus         int
		wantXCache         string
	}{
		{name: "502", cacheControl: "max-age=10", status: 502, wantStatus: 200, wantXCache: "STALE"},
		{name: "504", cacheControl: "max-age=10", status: 504, wantStatus: 200, wantXCache: "STALE"},
		{name: "503", cacheControl: "max-age=10", status: 503, wantStatus: 503, wantXCache: "MISS"},
		{name: "503 within stale-if-error", cacheControl: "max-age=10, stale-if-error=60", status: 503, wantStatus: 200, wantXCache: "STALE"},
		{name: "503 past stale-if-error", cacheControl: "max-age=10, stale-if-error=5", status: 503, wantStatus: 503, wantXCache: "MISS"},
		{name: "502, must-revalidate", cacheControl: "max-age=10, must-revalidate", status: 502, wantStatus: 502, wantXCache: "MISS"},
		{name: "502, s-maxage", cacheControl: "s-maxage=10", status: 502, wantStatus: 502, wantXCache: "MISS"},
		{name: "404", cacheControl: "max-age=10", status: 404, wantStatus: 404, wantXCache: "MISS"},
		{name: "stored 500, then 502", cacheControl: "max-age=10", status: 502, wantStatus: 502, wantXCache: "MISS"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := must(middleware.NewCache(middleware.CacheOptions{}))(t)
				defer closeOK(t, c)
				var runs atomic.Int64
				h := c.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					if runs.Add(1) > 1 {
						w.WriteHeader(tt.status)
						return
					}
					w.Header().Set("Cache-Control", tt.cacheControl)
					if tt.name == "stored 500, then 502" {
						w.WriteHeader(http.StatusInternalServerError)
					}
					_, _ = w.Write([]byte("stored"))
				}))
				client, shutdown := servePipe(h)
				defer shutdown()
				get(t, client, "http://pipe/")
				time.Sleep(20 * time.Second) // stale for 10 s
				res := get(t, client, "http://pipe/")
				if res.status != tt.wantStatus || res.header.Get("X-Cache") != tt.wantXCache {
					t.Errorf("origin answered %d: got %d %q, X-Cache %q; want %d, %s", tt.status, res.status, res.body,
						res.header.Get("X-Cache"), tt.wantStatus, tt.wantXCache)
				}
				if tt.wantXCache == "STALE" && (res.body != "stored" || res.header.Get("Age") != "20") {
					t.Errorf("stale response %q with Age %q, want the stored body with Age 20", res.body, res.header.Get("Age"))
				}
			})
		})
	}
}

// A Range request is answered from a stored complete response.
func TestCacheServesRangesFromStoredResponses(t *testing.T) {
	for _, tt := range []struct {
		name, rangeHeader, ifRange string
		wantStatus                 int
		wantBody, wantRange        string
	}{
		{name: "first bytes", rangeHeader: "bytes=0-1", wantStatus: 206, wantBody: "01", wantRange: "bytes 0-1/11"},
		{name: "open end", rangeHeader: "bytes=1-", wantStatus: 206, wantBody: "1234567890", wantRange: "bytes 1-10/11"},
		{name: "suffix", rangeHeader: "bytes=-1", wantStatus: 206, wantBody: "0", wantRange: "bytes 10-10/11"},
		{name: "past the end", rangeHeader: "bytes=5-99", wantStatus: 206, wantBody: "567890", wantRange: "bytes 5-10/11"},
		{name: "unsatisfiable", rangeHeader: "bytes=20-", wantStatus: 416, wantRange: "bytes */11"},
		{name: "several ranges", rangeHeader: "bytes=0-1,3-4", wantStatus: 200, wantBody: "01234567890"},
		{name: "another unit", rangeHeader: "items=0-1", wantStatus: 200, wantBody: "01234567890"},
		{name: "If-Range matches", rangeHeader: "bytes=0-1", ifRange: `"v1"`, wantStatus: 206, wantBody: "01", wantRange: "bytes 0-1/11"},
		{name: "If-Range differs", rangeHeader: "bytes=0-1", ifRange: `"v0"`, wantStatus: 200, wantBody: "01234567890"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			upstream := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Cache-Control", "max-age=600")
				w.Header().Set("ETag", `"v1"`)
				_, _ = w.Write([]byte("01234567890"))
			})
			_, srv := cachedProxy(t, middleware.CacheOptions{}, upstream)
			get(t, srv.Client(), srv.URL+"/r")
			headers := []string{"Range", tt.rangeHeader}
			if tt.ifRange != "" {
				headers = append(headers, "If-Range", tt.ifRange)
			}
			res := get(t, srv.Client(), srv.URL+"/r", headers...)
			if res.status != tt.wantStatus || res.body != tt.wantBody || res.header.Get("Content-Range") != tt.wantRange || res.header.Get("X-Cache") != "HIT" {
				t.Errorf("Range %s: %d %q, Content-Range %q, X-Cache %q; want %d %q, %q from the cache", tt.rangeHeader, res.status, res.body,
					res.header.Get("Content-Range"), res.header.Get("X-Cache"), tt.wantStatus, tt.wantBody, tt.wantRange)
			}
		})
	}
}

// A response refreshed by a 304 keeps the tags it was stored with.
func TestCacheRevalidationKeepsTags(t *testing.T) {
	o := newOrigin()
	o.on("/r", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.Header().Set("Cache-Control", "max-age=600")
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Cache-Control", "max-age=0")
		w.Header().Set("Cache-Tag", "product-1")
	})
	c, srv := cachedProxy(t, middleware.CacheOptions{}, o)
	get(t, srv.Client(), srv.URL+"/r")
	get(t, srv.Client(), srv.URL+"/r") // revalidated: fresh for 600 s
	if res := get(t, srv.Client(), srv.URL+"/r"); res.header.Get("X-Cache") != "HIT" {
		t.Fatalf("after the 304: X-Cache %q, want HIT", res.header.Get("X-Cache"))
	}
	c.InvalidateTag("product-1")
	if res := get(t, srv.Client(), srv.URL+"/r"); res.header.Get("X-Cache") != "MISS" || o.lastHeader().Get("If-None-Match") != "" {
		t.Errorf("after InvalidateTag: X-Cache %q, If-None-Match %q; want a full fetch", res.header.Get("X-Cache"), o.lastHeader().Get("If-None-Match"))
	}
}
