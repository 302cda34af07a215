package admin

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram records durations in log-linear buckets, as HdrHistogram does:
// 16 buckets per power of two, so a quantile is within 6.25% of the true
// value, from 1ns to 2^40ns (18 minutes; longer ones count in the last
// bucket). Recording is one atomic add, safe for concurrent use and free of
// locks: HdrHistogram-go needs a lock around every record, and the
// Prometheus client's histograms do not give quantiles back.
type histogram struct {
	counts [buckets]atomic.Uint64
}

const (
	subBits = 4
	maxExp  = 40 - subBits
	buckets = (maxExp + 1) << subBits
)

// bucketOf returns the bucket of v nanoseconds: v itself below 16, then
// 16 buckets for each power of two.
func bucketOf(v uint64) int {
	if v < 1<<subBits {
		return int(v)
	}
	e := bits.Len64(v) - subBits
	if e > maxExp {
		return buckets - 1
	}
	return e<<subBits | int((v>>(e-1))&(1<<subBits-1))
}

// lowest returns the smallest value of bucket i.
func lowest(i int) uint64 {
	if i < 1<<subBits {
		return uint64(i) //nolint:gosec // i is a bucket index: 0 <= i < buckets
	}
	e, sub := i>>subBits, uint64(i&(1<<subBits-1))
	return (1<<subBits | sub) << (e - 1)
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))].Add(1)
}

// quantiles returns the q-quantiles of what was recorded (0 when nothing
// was), each the middle of its bucket.
func (h *histogram) quantiles(qs ...float64) []time.Duration {
	var snap [buckets]uint64
	var total uint64
	for i := range snap {
		snap[i] = h.counts[i].Load()
		total += snap[i]
	}
	out := make([]time.Duration, len(qs))
	if total == 0 {
		return out
	}
	for k, q := range qs {
		rank := uint64(q*float64(total) + 0.5)
		rank = min(max(rank, 1), total)
		var seen uint64
		for i, n := range snap {
			seen += n
			if seen >= rank {
				lo := lowest(i)
				hi := lo + 1
				if i+1 < buckets {
					hi = lowest(i + 1)
				}
				out[k] = time.Duration(lo + (hi-lo)/2) //nolint:gosec // at most 2^40ns: far below MaxInt64
				break
			}
		}
	}
	return out
}
