package middleware

import (
	"cmp"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plykit/ply/internal/httpwriter"
	"github.com/sony/gobreaker/v2"
)

// BreakerOptions configures [NewBreaker]. The zero value keeps one breaker per route
// pattern, opens it after 5 consecutive failures, and probes again after 30s.
type BreakerOptions struct {
	// Name, when set, makes all requests share one breaker of that name. Default: one
	// breaker per [http.Request.Pattern] (so the layer must run inside a mux route).
	Name string `json:"name,omitempty"`
	// Failures is the number of consecutive failures (5xx responses and panics) that
	// opens the breaker. Default 5.
	Failures uint32 `json:"failures,omitempty" jsonschema:"minimum=1"`
	// Timeout is how long the breaker stays open before letting probes through
	// (half-open). Default 30s.
	Timeout time.Duration `json:"timeout,omitempty" jsonschema:"minimum=1ms"`
	// HalfOpenRequests is the number of probes let through when half-open; as many
	// successes close the breaker, one failure opens it again. Default 1.
	HalfOpenRequests uint32 `json:"halfOpenRequests,omitempty" jsonschema:"minimum=1"`
	// Interval, when set, clears the failure counts of a closed breaker this often.
	// Default 0: counts are only cleared by a success.
	Interval time.Duration `json:"interval,omitempty" jsonschema:"minimum=0"`
}

// Breaker is a circuit breaker (sony/gobreaker/v2) that fails fast while the inner
// chain keeps failing. It is safe for concurrent use.
type Breaker struct {
	opts     BreakerOptions
	logger   *slog.Logger
	breakers sync.Map // key → *circuit
}

type circuit struct {
	cb       *gobreaker.TwoStepCircuitBreaker[struct{}]
	openedAt atomic.Int64 // UnixNano of the last transition to open
}

var errFailed = errors.New("5xx response")

// NewBreaker validates opts and returns a [Breaker] that logs state changes to
// logger at warn level (nil means [slog.Default]).
func NewBreaker(opts BreakerOptions, logger *slog.Logger) (*Breaker, error) {
	if err := checked("breaker", opts); err != nil {
		return nil, err
	}
	opts.Failures = cmp.Or(opts.Failures, 5)
	opts.Timeout = cmp.Or(opts.Timeout, 30*time.Second)
	opts.HalfOpenRequests = cmp.Or(opts.HalfOpenRequests, 1)
	if logger == nil {
		logger = slog.Default()
	}
	return &Breaker{opts: opts, logger: logger}, nil
}

// State returns the state of the breaker for key (the Name option or a route
// pattern): "closed", "half-open" or "open". A breaker that has seen no request is
// closed.
func (b *Breaker) State(key string) string {
	if c, ok := b.breakers.Load(key); ok {
		return c.(*circuit).cb.State().String()
	}
	return gobreaker.StateClosed.String()
}

func (b *Breaker) circuit(key string) *circuit {
	if c, ok := b.breakers.Load(key); ok {
		return c.(*circuit)
	}
	c := &circuit{}
	c.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        key,
		MaxRequests: b.opts.HalfOpenRequests,
		Interval:    b.opts.Interval,
		Timeout:     b.opts.Timeout,
		ReadyToTrip: func(counts gobreaker.Counts) bool { return counts.ConsecutiveFailures >= b.opts.Failures },
		OnStateChange: func(name string, from, to gobreaker.State) {
			if to == gobreaker.StateOpen {
				c.openedAt.Store(time.Now().UnixNano())
			}
			b.logger.Warn("circuit breaker state changed", "breaker", name, "from", from.String(), "to", to.String())
		},
	})
	actual, _ := b.breakers.LoadOrStore(key, c)
	return actual.(*circuit)
}

// Middleware returns the layer. While the breaker is open, requests get 503 with a
// Retry-After header (the seconds until it half-opens) without running the inner
// chain; when half-open, requests beyond the probes get 503 with Retry-After: 1.
func (b *Breaker) Middleware() func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key := b.opts.Name
			if key == "" {
				key = r.Pattern
			}
			c := b.circuit(key)
			done, err := c.cb.Allow()
			if err != nil {
				wait := 1.0
				if errors.Is(err, gobreaker.ErrOpenState) {
					wait = (b.opts.Timeout - time.Since(time.Unix(0, c.openedAt.Load()))).Seconds()
				}
				w.Header().Set("Retry-After", retryAfter(wait))
				WriteProblem(w, http.StatusServiceUnavailable, "circuit breaker open")
				return
			}
			sw := httpwriter.New(w, nil)
			failed := true // until the handler returns: a panic is a failure
			defer func() {
				if failed {
					done(errFailed)
				} else {
					done(nil)
				}
			}()
			next.ServeHTTP(sw, r)
			failed = sw.Status() >= 500 // 0, when the handler wrote nothing, is net/http's 200
		})
	}
}
