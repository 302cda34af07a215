package jobqueue

import (
	"math"
	"time"
)

// Backoff computes the wait before a failed job's next attempt:
// Initial·Multiplier^(attempt-1), at most Max, spread by ±Jitter. The zero
// value of a field means its default.
type Backoff struct {
	Initial    time.Duration // wait after the first failure. Default 1s.
	Max        time.Duration // upper bound, jitter included. Default 5m.
	Multiplier float64       // growth per attempt, >= 1. Default 2.
	// Jitter is the fraction (0..1) by which a wait is spread at random, so
	// jobs that failed together do not retry together. Default 0.2; set a
	// negative value for none.
	Jitter float64
}

// DefaultBackoff is the [Backoff] of a [Queue] unless [WithBackoff] says
// otherwise: 1s, 2s, 4s… up to 5m, ±20%.
var DefaultBackoff = Backoff{Initial: time.Second, Max: 5 * time.Minute, Multiplier: 2, Jitter: 0.2}

func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = DefaultBackoff.Initial
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoff.Max
	}
	if b.Multiplier < 1 {
		b.Multiplier = DefaultBackoff.Multiplier
	}
	switch {
	case b.Jitter == 0:
		b.Jitter = DefaultBackoff.Jitter
	case b.Jitter < 0:
		b.Jitter = 0
	case b.Jitter > 1:
		b.Jitter = 1
	}
	return b
}

// Delay returns the wait after attempt (1 for the first) failed. rnd, in
// [0, 1), picks the jitter: 0.5 gives the wait without jitter, 0 the
// shortest and values near 1 the longest. Delay is a pure function.
func (b Backoff) Delay(attempt int, rnd float64) time.Duration {
	b = b.withDefaults()
	attempt = max(attempt, 1)
	d := float64(b.Initial) * math.Pow(b.Multiplier, float64(attempt-1))
	d *= 1 + b.Jitter*(2*rnd-1)
	if d >= float64(b.Max) || math.IsInf(d, 0) || math.IsNaN(d) {
		return b.Max
	}
	return time.Duration(d)
}
