package admin

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestBucketsCoverEveryValueInOrder(t *testing.T) {
	prev := -1
	for v := uint64(0); v < 1<<20; v++ {
		b := bucketOf(v)
		if b < prev || b > prev+1 {
			t.Fatalf("bucketOf(%d) = %d after %d: buckets skip or go back", v, b, prev)
		}
		if lo := lowest(b); lo > v {
			t.Fatalf("lowest(bucketOf(%d)) = %d > %d", v, lo, v)
		}
		prev = b
	}
	if b := bucketOf(1 << 62); b != buckets-1 {
		t.Errorf("bucketOf(2^62) = %d, want the last bucket %d", b, buckets-1)
	}
}

func TestQuantilesWithinTheBucketError(t *testing.T) {
	var h histogram
	r := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // a fixed seed for test data, not a secret
	const n = 100_000
	for range n {
		h.record(time.Duration(r.Int64N(int64(10 * time.Millisecond))))
	}
	got := h.quantiles(0.5, 0.99)
	for i, want := range []time.Duration{5 * time.Millisecond, 9900 * time.Microsecond} {
		if diff := float64(got[i]-want) / float64(want); diff > 0.07 || diff < -0.07 {
			t.Errorf("quantile %d = %v, want %v within 7%%", i, got[i], want)
		}
	}
	var empty histogram
	if q := empty.quantiles(0.5); q[0] != 0 {
		t.Errorf("an empty histogram's median = %v, want 0", q[0])
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h histogram
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		d := time.Duration(0)
		for pb.Next() {
			d += 37
			h.record(d)
		}
	})
}
