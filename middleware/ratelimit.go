package middleware

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"strings"
	"time"

	"github.com/maypok86/otter/v2"
	"golang.org/x/time/rate"
)

// RateLimitOptions configures [NewRateLimit]. The zero value allows each client IP
// 10 requests per second with bursts of 20, and tracks at most 10,000 clients.
type RateLimitOptions struct {
	// Rate is the sustained number of requests per second allowed per key. Default 10.
	Rate float64 `json:"rate,omitempty" jsonschema:"exclusiveMinimum=0"`
	// Burst is the number of requests allowed at once, above Rate. Default 2×Rate,
	// at least 1 and at most 2^30.
	Burst int `json:"burst,omitempty" jsonschema:"minimum=1"`
	// Key says what is limited: "ip" (the client address of the connection; an
	// IPv6 client by its /64 prefix), "principal" (the API key or JWT subject set
	// by an outer [Auth] layer, so the layer must sit inside Auth) or
	// "header:<name>" (a header such as a tenant header). When the principal or the
	// header is missing, the client IP is used. Clients choose header values, so use
	// a header key only behind a layer or proxy that sets or checks it. Default "ip".
	Key string `json:"key,omitempty" jsonschema:"pattern=^(ip|principal|header:[A-Za-z0-9-]+)$,example=ip,example=principal,example=header:X-Tenant"`
	// MaxKeys bounds the number of keys tracked at once; the least useful limiters
	// are evicted first. Default 10000.
	MaxKeys int `json:"maxKeys,omitempty" jsonschema:"minimum=1"`
	// IdleTTL is how long the limiter of a key that makes no request is kept.
	// It must be at least Burst/Rate, the time a limiter takes to refill: evicting a
	// limiter earlier would hand the key a full burst again. Default 10m or Burst/Rate,
	// whichever is longer.
	IdleTTL time.Duration `json:"idleTTL,omitempty" jsonschema:"minimum=0"`
}

// withDefaults returns o with the defaults applied.
func (o RateLimitOptions) withDefaults() RateLimitOptions {
	if o.Rate == 0 {
		o.Rate = 10
	}
	if o.Burst == 0 {
		o.Burst = int(max(1, min(math.Ceil(2*o.Rate), 1<<30)))
	}
	if o.Key == "" {
		o.Key = "ip"
	}
	if o.MaxKeys == 0 {
		o.MaxKeys = 10_000
	}
	if o.IdleTTL == 0 {
		o.IdleTTL = max(10*time.Minute, o.refill())
	}
	return o
}

// refill is how long an empty bucket takes to fill up, saturated at about 292 years.
func (o RateLimitOptions) refill() time.Duration {
	return time.Duration(min(float64(o.Burst)/o.Rate*float64(time.Second), math.MaxInt64/2))
}

// Validate reports what the schema cannot: a rate that is not a number (NaN,
// ±Inf) and an idle TTL shorter than the refill time, as [*option.Error] values.
func (o RateLimitOptions) Validate() error {
	var p problems
	if math.IsNaN(o.Rate) || math.IsInf(o.Rate, 0) {
		p.add("rate", "must be a finite number > 0 requests per second, got %v", o.Rate)
		return p.err()
	}
	if d := o.withDefaults(); d.Rate > 0 && d.Burst > 0 && d.IdleTTL >= 0 && d.IdleTTL < d.refill() {
		p.add("idleTTL", "must be >= burst/rate (%v), the time a limiter takes to refill, got %v", d.refill(), d.IdleTTL)
	}
	return p.err()
}

// RateLimit limits the request rate per key with token buckets
// (golang.org/x/time/rate). It is safe for concurrent use. Close it when done.
type RateLimit struct {
	limit    rate.Limit
	burst    int
	header   string // for "header:<name>"
	keyKind  string // "ip", "principal" or "header"
	maxKeys  int
	now      func() time.Time
	limiters *otter.Cache[string, *rate.Limiter]
}

// NewRateLimit validates opts and returns a [RateLimit]. now is the clock that
// drives the token buckets and the eviction of idle keys; nil means [time.Now].
func NewRateLimit(opts RateLimitOptions, now func() time.Time) (*RateLimit, error) {
	if err := checked("ratelimit", opts); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	rl := &RateLimit{limit: rate.Limit(opts.Rate), burst: opts.Burst, keyKind: opts.Key, maxKeys: opts.MaxKeys, now: now}
	if name, ok := strings.CutPrefix(opts.Key, "header:"); ok {
		rl.keyKind, rl.header = "header", textproto.CanonicalMIMEHeaderKey(name)
	}
	o := &otter.Options[string, *rate.Limiter]{
		MaximumSize:      opts.MaxKeys,
		ExpiryCalculator: otter.ExpiryAccessing[string, *rate.Limiter](opts.IdleTTL),
	}
	if now != nil {
		o.Clock = funcClock(now)
	} else {
		rl.now = time.Now
	}
	c, err := otter.New(o)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: %w", err)
	}
	rl.limiters = c
	return rl, nil
}

// Close stops the store's background clean-up. Requests after Close are still
// limited.
func (rl *RateLimit) Close() error {
	rl.limiters.StopAllGoroutines()
	return nil
}

// Middleware returns the layer. A request over the limit gets 429 Too Many Requests
// with a Retry-After header: the whole seconds until its key has a token again.
func (rl *RateLimit) Middleware() func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ok, wait := rl.allow(rl.key(r)); !ok {
				w.Header().Set("Retry-After", retryAfter(wait.Seconds()))
				WriteProblem(w, http.StatusTooManyRequests, "rate limit exceeded")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// allow takes a token for key, or reports how long until one is available.
func (rl *RateLimit) allow(key string) (bool, time.Duration) {
	lim, ok := rl.limiters.GetIfPresent(key)
	if !ok {
		lim, _ = rl.limiters.ComputeIfAbsent(key, func() (*rate.Limiter, bool) {
			return rate.NewLimiter(rl.limit, rl.burst), false
		})
	}
	now := rl.now()
	res := lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

func (rl *RateLimit) key(r *http.Request) string {
	switch rl.keyKind {
	case "principal":
		if p := PrincipalFrom(r.Context()); p != nil {
			if p.KeyName != "" {
				return "key:" + p.KeyName
			}
			return "sub:" + p.Subject
		}
	case "header":
		if v := r.Header.Get(rl.header); v != "" {
			return "hdr:" + v
		}
	}
	return "ip:" + clientIP(r)
}

// clientIP returns the client address of r.RemoteAddr as a limiter key: an IPv4
// address whole, an IPv6 address as its /64 prefix (one host usually holds a whole
// /64, so keying by the full address would give it 2^64 buckets). An IPv4-mapped
// IPv6 address counts as IPv4. Forwarded headers are not trusted: put a
// proxy-aware layer in front to rewrite RemoteAddr.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		return addr.String()
	}
	p, _ := addr.Prefix(64) // cannot fail for an IPv6 address
	return p.String()
}

// funcClock adapts a clock function to otter.Clock. It delivers no ticks: expired
// entries are dropped as the cache is used instead of by a background sweep.
type funcClock func() time.Time

func (f funcClock) NowNano() int64                      { return f().UnixNano() }
func (f funcClock) Tick(time.Duration) <-chan time.Time { return nil }

// Adopt takes over the token buckets of from, the limiter this one replaces,
// so that replacing a limiter (a reload that changes its options) hands no
// client a fresh burst. The buckets are shared, not copied: requests still
// served by from while it drains take their tokens from the same buckets.
// Each bucket gets this limiter's rate and burst, keeping the tokens it has
// (capped at the new burst). The hottest keys are adopted first, up to this
// limiter's MaxKeys. Nothing is adopted when the two limit by different keys
// (ip, principal, a header): their buckets would count other things. Adopt
// returns the number of buckets adopted; call it before the limiter serves.
func (rl *RateLimit) Adopt(from *RateLimit) int {
	if from == nil || from.keyKind != rl.keyKind || from.header != rl.header {
		return 0
	}
	// Hottest holds the old cache's policy lock while it iterates; collect
	// first, then write to the new cache.
	var keys []string
	var buckets []*rate.Limiter
	for e := range from.limiters.Hottest() {
		if len(keys) == rl.maxKeys {
			break
		}
		keys = append(keys, e.Key)
		buckets = append(buckets, e.Value)
	}
	now := rl.now()
	for i, lim := range buckets {
		if lim.Limit() != rl.limit {
			lim.SetLimitAt(now, rl.limit)
		}
		if lim.Burst() != rl.burst {
			lim.SetBurstAt(now, rl.burst)
		}
		rl.limiters.Set(keys[i], lim)
	}
	return len(keys)
}
