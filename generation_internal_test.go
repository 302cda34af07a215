package ply

import "context"

// ServeSnapshot calls the chain's current compiled snapshot directly, the
// way Chain.Serve did before generations: one atomic load, a pooled Call,
// the snapshot's serve — without the generation accounting (the stripe
// counts and the retired check). It is the baseline the generation call
// path is measured against (BenchmarkGenerationCallPath).
func ServeSnapshot(ctx context.Context, ch *Chain, req, res any) (any, error) {
	g := ch.h.gen.Load()
	s := g.snaps[ch.idx]
	c := s.pool.Get().(*Call)
	c.begin(req, res, nil, g, nil)
	return s.end(c, s.run(ctx, c))
}

// LazyFirstRetry is the backoff after a lazy plugin's first failed load,
// for the tests that wait it out on a fake clock.
const LazyFirstRetry = lazyFirstRetry
