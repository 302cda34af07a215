package middleware_test

import (
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/plykit/ply/middleware"
)

func TestRateLimitUnderSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rl := must(middleware.NewRateLimit(middleware.RateLimitOptions{Rate: 0.5, Burst: 2, Key: "header:X-Tenant"}, nil))(t)
		defer closeOK(t, rl)
		client, shutdown := servePipe(rl.Middleware()(ok))
		defer shutdown()

		status := func(tenant string) (int, string) {
			res := get(t, client, "http://pipe/", "X-Tenant", tenant)
			return res.status, res.header.Get("Retry-After")
		}
		for i := range 2 {
			if s, _ := status("acme"); s != 200 {
				t.Fatalf("request %d within the burst: status %d, want 200", i+1, s)
			}
		}
		s, after := status("acme")
		if s != http.StatusTooManyRequests || after != "2" {
			t.Fatalf("over the burst: status %d, Retry-After %q; want 429, \"2\" (one token per 2s)", s, after)
		}
		if s, _ := status("globex"); s != 200 {
			t.Errorf("another tenant: status %d, want 200 (limits are per key)", s)
		}

		time.Sleep(time.Second) // the fake clock: half a token
		if s, after := status("acme"); s != http.StatusTooManyRequests || after != "1" {
			t.Errorf("after 1s: status %d, Retry-After %q; want 429, \"1\"", s, after)
		}
		time.Sleep(time.Second)
		if s, _ := status("acme"); s != 200 {
			t.Errorf("after 2s: status %d, want 200", s)
		}
	})
}

// clock is a manual clock for NewRateLimit.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestRateLimitInjectedClockPerIP(t *testing.T) {
	clk := &clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	rl := must(middleware.NewRateLimit(middleware.RateLimitOptions{Rate: 0.1, Burst: 1}, clk.Now))(t)
	defer closeOK(t, rl)
	srv := serve(t, rl.Middleware()(ok))

	if res := get(t, srv.Client(), srv.URL); res.status != 200 {
		t.Fatalf("first request: %d, want 200", res.status)
	}
	res := get(t, srv.Client(), srv.URL)
	if res.status != http.StatusTooManyRequests || res.header.Get("Retry-After") != "10" {
		t.Fatalf("second request: %d, Retry-After %q; want 429, \"10\"", res.status, res.header.Get("Retry-After"))
	}
	if res.header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("Content-Type = %q, want a problem", res.header.Get("Content-Type"))
	}
	clk.Advance(9500 * time.Millisecond)
	if res := get(t, srv.Client(), srv.URL); res.status != http.StatusTooManyRequests || res.header.Get("Retry-After") != "1" {
		t.Errorf("after 9.5s: %d, Retry-After %q; want 429, \"1\" (rounded up)", res.status, res.header.Get("Retry-After"))
	}
	clk.Advance(500 * time.Millisecond)
	if res := get(t, srv.Client(), srv.URL); res.status != 200 {
		t.Errorf("after 10s: %d, want 200", res.status)
	}
}

func TestRateLimitPrincipalKey(t *testing.T) {
	a := must(middleware.NewAuth(middleware.AuthOptions{APIKeys: []middleware.APIKey{
		{Name: "a", Key: "key-a-0123456789ab"}, {Name: "b", Key: "key-b-0123456789ab"},
	}}, nil, discardLogger()))(t)
	rl := must(middleware.NewRateLimit(middleware.RateLimitOptions{Rate: 0.001, Burst: 1, Key: "principal"}, nil))(t)
	defer closeOK(t, rl)
	srv := serve(t, a.Middleware()(rl.Middleware()(ok)))

	for _, tt := range []struct {
		key    string
		status int
	}{{"key-a-0123456789ab", 200}, {"key-a-0123456789ab", 429}, {"key-b-0123456789ab", 200}} {
		if res := get(t, srv.Client(), srv.URL, "X-API-Key", tt.key); res.status != tt.status {
			t.Errorf("%s: status %d, want %d", tt.key, res.status, tt.status)
		}
	}
}

func TestRateLimitOptionsValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts middleware.RateLimitOptions
	}{
		{name: "negative burst", opts: middleware.RateLimitOptions{Burst: -1}},
		{name: "negative rate", opts: middleware.RateLimitOptions{Rate: -1}},
		{name: "unknown key", opts: middleware.RateLimitOptions{Key: "cookie"}},
		{name: "idle TTL shorter than refill", opts: middleware.RateLimitOptions{Rate: 1, Burst: 100, IdleTTL: time.Second}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rl, err := middleware.NewRateLimit(tt.opts, nil)
			if err == nil {
				closeOK(t, rl)
				t.Fatalf("NewRateLimit(%+v) succeeded, want an error", tt.opts)
			}
			t.Log(err)
		})
	}
}

// behindProxy stands for a trusted proxy layer: it sets the client address
// from X-Test-Client, as a proxy-aware layer rewrites RemoteAddr.
func behindProxy(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.RemoteAddr = r.Header.Get("X-Test-Client")
		h.ServeHTTP(w, r)
	})
}

// The attack: an IPv6 client owns a whole /64 and took a new address for
// every request, each with a fresh bucket. Clients are now keyed by their
// /64; IPv4 clients, and IPv4-mapped IPv6 ones, by their address.
func TestRateLimitKeysIPv6ByPrefix(t *testing.T) {
	rl := must(middleware.NewRateLimit(middleware.RateLimitOptions{Rate: 0.001, Burst: 1}, nil))(t)
	defer closeOK(t, rl)
	srv := serve(t, behindProxy(rl.Middleware()(ok)))
	for _, tt := range []struct {
		client string
		want   int
	}{
		{client: "[2001:db8:1:2::1]:5000", want: 200},
		{client: "[2001:db8:1:2:ffff:ffff:ffff:fffe]:5001", want: 429}, // same /64
		{client: "[2001:db8:1:2::3%eth0]:5002", want: 429},             // same /64, with a zone
		{client: "[2001:db8:1:3::1]:5000", want: 200},                  // the next /64
		{client: "192.0.2.1:5000", want: 200},
		{client: "[::ffff:192.0.2.1]:5001", want: 429}, // the same IPv4 client
		{client: "192.0.2.2:5000", want: 200},
	} {
		if res := get(t, srv.Client(), srv.URL, "X-Test-Client", tt.client); res.status != tt.want {
			t.Errorf("client %s: %d, want %d", tt.client, res.status, tt.want)
		}
	}
}

// Adopt hands a replacing limiter the old buckets with the new rate, the
// hottest keys first up to the new MaxKeys, and nothing when the key differs.
func TestRateLimitAdopt(t *testing.T) {
	tenants := []string{"acme", "globex", "initech"}
	tests := []struct {
		name       string
		next       middleware.RateLimitOptions
		adopted    int
		limited    int    // tenants still limited after the hand-off
		retryAfter string // of a limited tenant: the new rate's
	}{
		{name: "new rate", next: middleware.RateLimitOptions{Rate: 1, Burst: 1, Key: "header:X-Tenant"}, adopted: 3, limited: 3, retryAfter: "1"},
		{name: "fewer keys", next: middleware.RateLimitOptions{Rate: 1, Burst: 1, Key: "header:X-Tenant", MaxKeys: 2}, adopted: 2, limited: -1, retryAfter: "1"}, // a bound of 2 evicts as it admits
		{name: "other key", next: middleware.RateLimitOptions{Rate: 1, Burst: 3}, adopted: 0, limited: 0},                                                        // one IP, a fresh burst of 3
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
			old := must(middleware.NewRateLimit(middleware.RateLimitOptions{Rate: 0.01, Burst: 1, Key: "header:X-Tenant"}, clk.Now))(t)
			defer closeOK(t, old)
			srv := serve(t, old.Middleware()(ok))
			for _, tenant := range tenants {
				if res := get(t, srv.Client(), srv.URL, "X-Tenant", tenant); res.status != 200 {
					t.Fatalf("%s's first request: %d, want 200", tenant, res.status)
				}
			}

			rl := must(middleware.NewRateLimit(tt.next, clk.Now))(t)
			defer closeOK(t, rl)
			if n := rl.Adopt(old); n != tt.adopted {
				t.Errorf("Adopt = %d, want %d", n, tt.adopted)
			}
			next := serve(t, rl.Middleware()(ok))
			limited := 0
			for _, tenant := range tenants {
				res := get(t, next.Client(), next.URL, "X-Tenant", tenant)
				if res.status == http.StatusTooManyRequests {
					limited++
					if after := res.header.Get("Retry-After"); after != tt.retryAfter {
						t.Errorf("%s: Retry-After %q, want %q (the new rate's)", tenant, after, tt.retryAfter)
					}
				}
			}
			if tt.limited >= 0 && limited != tt.limited {
				t.Errorf("%d tenants limited after the hand-off, want %d", limited, tt.limited)
			}
		})
	}
}
