package stock_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/middleware"
	"github.com/plykit/ply/option"
	"github.com/plykit/ply/stock"
)

var opsKey = []middleware.APIKey{
	{Name: "ops", Key: "k-ops-0123456789abcd"},
	{Name: "dev", Key: "k-dev-0123456789abcd"},
}

// The attack: the rate limit sat inside auth, so a client guessing API keys
// got 401 after 401, never 429, at any speed. The limit now runs before auth
// and counts failed attempts: once the burst is spent, guesses get 429, and
// so does the right key from the same client.
func TestRateLimitLimitsFailedLogins(t *testing.T) {
	var logs logBuffer
	h := serve(t, []ply.Plugin{
		stock.NewAuth(middleware.AuthOptions{APIKeys: opsKey}),
		stock.NewRateLimit(middleware.RateLimitOptions{Rate: 0.001, Burst: 3}),
	}, []ply.Handler{route("GET /orders", hello)}, logs.logger())

	var got []int
	for i := range 5 {
		key := "k-guess-" + strings.Repeat("0", 11) + string(rune('a'+i))
		res, _ := h.do(t, http.MethodGet, "/orders", http.Header{"X-Api-Key": {key}})
		got = append(got, res.StatusCode)
	}
	res, _ := h.do(t, http.MethodGet, "/orders", http.Header{"X-Api-Key": {"k-ops-0123456789abcd"}})
	got = append(got, res.StatusCode)
	want := []int{401, 401, 401, 429, 429, 429}
	if !slices.Equal(got, want) {
		t.Errorf("statuses of 5 guesses then the right key = %v, want %v", got, want)
	}
	if n := strings.Count(logs.String(), "auth: credential rejected"); n != 3 {
		t.Errorf("auth logged %d rejected credentials, want 3 (the limited guesses never reach it):\n%s", n, logs.String())
	}
}

// The "principal" key needs auth outside the limiter. With the stock order
// (ratelimit before auth) it is a config error on the key that says how to
// move the rate limit; once moved, each caller has its own bucket. Before,
// the host started and silently limited by client address.
func TestRateLimitPrincipalKeyNeedsAuthOutside(t *testing.T) {
	principal := middleware.RateLimitOptions{Rate: 0.001, Burst: 1, Key: "principal"}
	for _, tt := range []struct {
		name    string
		plugins []ply.Plugin
		opts    []ply.Option
		problem string
	}{
		{name: "stock order", plugins: []ply.Plugin{stock.NewAuth(middleware.AuthOptions{APIKeys: opsKey}), stock.NewRateLimit(principal)},
			problem: `ratelimit (priority 95) runs before auth (priority 100)`},
		{name: "no auth", plugins: []ply.Plugin{stock.NewRateLimit(principal)}, problem: "no plugin named auth is registered"},
		{name: "key from a file", plugins: []ply.Plugin{stock.NewAuth(middleware.AuthOptions{APIKeys: opsKey}), stock.NewRateLimit(middleware.RateLimitOptions{})},
			opts:    []ply.Option{ply.WithOptions("ratelimit", ply.RawOptions{File: "ply.yaml", Data: []byte("key: principal\n")})},
			problem: `ratelimit (priority 95) runs before auth (priority 100)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := startHost(t, tt.plugins, []ply.Handler{route("GET /orders", hello)}, tt.opts...)
			ce, ok := errors.AsType[*option.Error](err)
			if !ok || ce.Plugin != "ratelimit" || ce.Field != "key" || !strings.Contains(ce.Problem, tt.problem) {
				t.Fatalf("start error = %v, want a config error of ratelimit at key: …%s…", err, tt.problem)
			}
			if tt.name != "no auth" && !strings.Contains(ce.Problem, `ply.WithPriority("ratelimit", 110)`) {
				t.Errorf("problem %q does not say how to move the rate limit", ce.Problem)
			}
		})
	}

	t.Run("moved inside auth", func(t *testing.T) {
		h := serve(t, []ply.Plugin{stock.NewAuth(middleware.AuthOptions{APIKeys: opsKey}), stock.NewRateLimit(principal)},
			[]ply.Handler{route("GET /orders", hello)}, ply.WithPriority("ratelimit", 110))
		var got []int
		for _, key := range []string{"k-ops-0123456789abcd", "k-ops-0123456789abcd", "k-dev-0123456789abcd"} {
			res, _ := h.do(t, http.MethodGet, "/orders", http.Header{"X-Api-Key": {key}})
			got = append(got, res.StatusCode)
		}
		if want := []int{200, 429, 200}; !slices.Equal(got, want) {
			t.Errorf("ops, ops, dev = %v, want %v (one bucket per caller)", got, want)
		}
	})
}

// A reload that changes the limiter's options hands it the old buckets: a
// client who spent its burst stays limited, under the new burst. A reload
// that changes what is limited (ip to a header) starts afresh, since the
// old buckets counted something else.
func TestRateLimitReloadKeepsBuckets(t *testing.T) {
	tests := []struct {
		name string
		next middleware.RateLimitOptions
		want []int // statuses of the 3 requests after the reload
	}{
		{name: "burst raised", next: middleware.RateLimitOptions{Rate: 0.001, Burst: 3}, want: []int{429, 429, 429}},
		{name: "same options", next: middleware.RateLimitOptions{Rate: 0.001, Burst: 2, IdleTTL: time.Hour}, want: []int{429, 429, 429}},
		{name: "other key", next: middleware.RateLimitOptions{Rate: 0.001, Burst: 2, Key: "header:X-Tenant"}, want: []int{200, 200, 429}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httpserver.New(httpserver.Options{Addr: "127.0.0.1:0"})
			h := serveWith(t, srv, []ply.Plugin{stock.NewRateLimit(middleware.RateLimitOptions{Rate: 0.001, Burst: 2})},
				[]ply.Handler{route("GET /orders", hello)})
			for range 2 {
				if res, _ := h.do(t, http.MethodGet, "/orders", nil); res.StatusCode != http.StatusOK {
					t.Fatalf("status before the reload = %d, want 200", res.StatusCode)
				}
			}
			r, err := h.Reload(t.Context(), ply.Change{Plugins: []ply.Plugin{srv, stock.NewRateLimit(tt.next)}})
			if err != nil || len(r.Replaced) != 1 || !strings.HasPrefix(r.Replaced[0], "ratelimit") {
				t.Fatalf("reload = %v, %v; want ratelimit replaced", r, err)
			}
			var got []int
			for range 3 {
				res, _ := h.do(t, http.MethodGet, "/orders", nil)
				got = append(got, res.StatusCode)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("statuses after the reload = %v, want %v", got, tt.want)
			}
		})
	}
}

// State of another type than a plugin exports is refused, naming both types.
func TestImportStateOfAnotherType(t *testing.T) {
	from := ply.Info{Name: "old", Version: "1.0.0"}
	for _, tt := range []struct {
		plugin ply.StateImporter
		want   string
	}{
		{stock.NewRateLimit(middleware.RateLimitOptions{}), "ratelimit: cannot take over the state of old@1.0.0: got string, want *middleware.RateLimit"},
		{stock.NewCache(middleware.CacheOptions{}), "cache: cannot take over the state of old@1.0.0: got string, want *middleware.Cache"},
	} {
		if err := tt.plugin.ImportState(t.Context(), "state", from); err == nil || err.Error() != tt.want {
			t.Errorf("ImportState(a string) = %v, want %q", err, tt.want)
		}
	}
}
