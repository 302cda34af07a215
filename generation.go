package ply

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
)

// A generation is an immutable set of plugin instances with every
// handler's compiled chain. Calls load the host's current generation once
// and run wholly on it; a reload builds the next generation beside it and
// swaps them in one store, so a call never sees an old layer around a new
// one. Each generation counts the calls running on it, to know when a
// replaced one is drained.
type generation struct {
	id    uint64
	r     *resolved
	snaps []*compiled // by Chain.idx
	live  []stripe    // in-flight counting, by Call.stripe & mask
	mask  uint32

	observers []*instance // the LayerObservers its chains were compiled with
	tn        *tenancy    // nil unless the host has tenants or chooses versions per call

	// retired is set once another generation took this one's place: a call
	// that loaded it too late backs off and takes the current one, and every
	// call that ends wakes the drainer.
	retired atomic.Bool
	wake    chan struct{} // buffered: a call ending on a retired generation

	// cancel ends the contexts of the calls still running when the drain's
	// grace period runs out; nil unless the host set one ([WithDrainGrace]).
	cancel context.CancelCauseFunc
	ctx    context.Context
}

// stripe counts the calls that started and finished on a generation, for
// the calls whose Call object maps to it. A call adds to its own stripe, so
// calls on different processors seldom share a cache line.
type stripe struct {
	started, finished atomic.Uint64
	_                 [48]byte // pad to a cache line
}

// stripeCount is how many stripes a generation counts on: a power of two
// near the processor count, so concurrent calls seldom share one.
var stripeCount = func() int {
	n := 1
	for n < runtime.GOMAXPROCS(0) && n < 64 {
		n <<= 1
	}
	return n
}()

var callStripes atomic.Uint32 // hands Call objects their stripes in turn

func newGeneration(id uint64, r *resolved, snaps []*compiled, grace time.Duration) *generation {
	g := &generation{id: id, r: r, snaps: snaps, live: make([]stripe, stripeCount),
		mask: uint32(stripeCount - 1), wake: make(chan struct{}, 1)} //nolint:gosec // stripeCount is at most 64
	if grace > 0 {
		g.ctx, g.cancel = context.WithCancelCause(context.Background())
	}
	return g
}

// inFlight returns how many calls run on g. It reads every finished count
// before any started count, so a call that ends in between is never missed:
// the result may be high for a moment, never low.
func (g *generation) inFlight() uint64 {
	var started, finished uint64
	for i := range g.live {
		finished += g.live[i].finished.Load()
	}
	for i := range g.live {
		started += g.live[i].started.Load()
	}
	return started - finished
}

// ended is called as a call on g ends (or backs off).
func (g *generation) ended(st *stripe) {
	if st == nil { // not counted: the uncounted baseline of the call path's benchmark
		return
	}
	st.finished.Add(1)
	if g.retired.Load() {
		select {
		case g.wake <- struct{}{}:
		default: // the drainer has a wake-up pending already
		}
	}
}

// drain retires g and waits until no call runs on it. When grace is over
// (and the host cancels contexts, see [WithDrainGrace]) the calls still
// running have their contexts cancelled with [ErrDrained] and are waited
// for until ctx is done. It returns how many calls still ran when ctx
// ended, or 0.
func (g *generation) drain(ctx context.Context, grace time.Duration) uint64 {
	g.retired.Store(true)
	var expired <-chan time.Time
	if g.cancel != nil {
		t := time.NewTimer(grace)
		defer t.Stop()
		expired = t.C
	}
	for {
		n := g.inFlight()
		if n == 0 {
			return 0
		}
		select {
		case <-g.wake:
		case <-expired:
			g.cancel(ErrDrained)
			expired = nil
		case <-ctx.Done():
			return n
		}
	}
}

// serve runs one call of chain ch on the current generation.
//
// The call is counted on its stripe of the generation: started here,
// finished in [compiled.run]'s deferred function, once the after-hooks ran
// (the last plugin code of the call). That defer is the one the call's
// recover needs anyway, so counting costs no defer of its own, and it runs
// on every way out of the chain: return, panic and runtime.Goexit.
//
// Two atomic adds per call are the least that drain can be correct with:
// the start must be a read-modify-write (a full fence on every processor Go
// supports) between publishing the call and reading g.retired, the mirror
// of drain's store to retired before it reads the counts — else a call and
// a drain could each miss the other. The end must be an atomic write too,
// so that drain observes the call's work as done, and on amd64 every
// atomic write is a locked instruction, a store as much as an add.
func (h *Host) serve(ctx context.Context, ch *Chain, req, res, sink any) (any, error) {
	g := h.gen.Load()
	if g.tn != nil {
		return h.serveTenant(ctx, g, ch, req, res, sink)
	}
	s := g.snaps[ch.idx]
	if s.lazies != nil {
		return h.serveLazy(ctx, ch, req, res, sink)
	}
	c := s.pool.Get().(*Call)
	st := &g.live[c.stripe&g.mask]
	st.started.Add(1)
	if g.retired.Load() || g.cancel != nil {
		return h.serveSlow(ctx, ch, g, st, c, req, res, sink)
	}
	c.begin(req, res, sink, g, st)
	return s.end(c, s.run(ctx, c))
}

// serveSlow is serve for a call that loaded a generation as it was being
// retired, or on a host that cancels drained calls ([WithDrainGrace]).
func (h *Host) serveSlow(ctx context.Context, ch *Chain, g *generation, st *stripe, c *Call, req, res, sink any) (any, error) {
	for g.retired.Load() { // swapped out since the load: take the new one
		g.ended(st)
		g.snaps[ch.idx].pool.Put(c)
		g = h.gen.Load()
		c = g.snaps[ch.idx].pool.Get().(*Call)
		st = &g.live[c.stripe&g.mask]
		st.started.Add(1)
	}
	s := g.snaps[ch.idx]
	if s.lazies != nil {
		g.ended(st)
		s.pool.Put(c)
		return h.serveLazy(ctx, ch, req, res, sink)
	}
	c.begin(req, res, sink, g, st)
	if g.cancel != nil {
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		stop := context.AfterFunc(g.ctx, func() { cancel(context.Cause(g.ctx)) })
		defer stop()
	}
	return s.end(c, s.run(ctx, c))
}

// serveLazy runs a call of a chain compiled without the lazy plugins that
// wrap it: it loads them (once, whoever asks first; the others wait within
// ctx), has the chains recompiled with their layers into a new generation,
// and serves the call there. A failed load fails the call, before any
// layer ran.
func (h *Host) serveLazy(ctx context.Context, ch *Chain, req, res, sink any) (any, error) {
	for {
		g := h.gen.Load()
		s := g.snaps[ch.idx]
		if s.lazies == nil {
			return h.serve(ctx, ch, req, res, sink)
		}
		for _, e := range s.lazies {
			if err := e.lazy.load(ctx); err != nil {
				return nil, err
			}
		}
		if err := h.upgrade(ctx, g); err != nil {
			return nil, err
		}
	}
}

// upgrade replaces generation g, whose chains lack lazy plugins that have
// loaded since, with one whose chains have their layers. It does nothing
// when g is no longer current: whoever replaced it compiled the loaded
// plugins in.
func (h *Host) upgrade(ctx context.Context, g *generation) error {
	if err := h.life.LockContext(ctx); err != nil { // a reload in progress compiles the loaded plugins in
		return fmt.Errorf("ply: waiting to add lazy plugins to the chains: %w", err)
	}
	defer h.life.Unlock()
	if h.gen.Load() != g {
		return nil
	}
	h.mu.Lock()
	chains, cfg, state := h.chains, *h.config(), h.state
	h.mu.Unlock()
	if state != stateStarted { // stopping: no new generation, and no drain for Stop to miss
		return fmt.Errorf("ply: adding lazy plugins to the chains: %w", ErrNotStarted)
	}
	snaps, err := h.compile(ctx, g.r, chains, g, cfg.bake.period > 0)
	if err != nil {
		return err
	}
	h.genIDs++
	next := newGeneration(h.genIDs, g.r, snaps, cfg.drainGrace)
	next.observers, next.tn = g.observers, g.tn
	h.gen.Store(next)
	h.drains.Go(func() { g.drain(context.Background(), cfg.drainGrace) }) // its instances all serve on
	return nil
}

// chainStats counts one compiled chain's calls and failures, for the bake
// after a reload to compare generations ([WithBake]). Chains count only
// when the host bakes.
type chainStats struct {
	by []statStripe
}

type statStripe struct {
	calls, failed atomic.Uint64
	_             [48]byte
}

func newChainStats() *chainStats { return &chainStats{by: make([]statStripe, stripeCount)} }

func (cs *chainStats) record(stripe uint32, err error) {
	st := &cs.by[stripe&uint32(len(cs.by)-1)] //nolint:gosec // len is at most 64
	st.calls.Add(1)
	if err != nil {
		st.failed.Add(1)
	}
}

// totals returns the calls and failures counted so far.
func (cs *chainStats) totals() (calls, failed uint64) {
	for i := range cs.by {
		failed += cs.by[i].failed.Load()
		calls += cs.by[i].calls.Load()
	}
	return calls, failed
}

// Generation returns the number of the generation new calls run on: 1
// once started, and one more for each reload that swapped chains (and each
// lazy plugin's upgrade); 0 before [Host.Start]. A fleet reports it beside
// the configuration revision a host serves.
func (h *Host) Generation() uint64 {
	if g := h.gen.Load(); g != nil {
		return g.id
	}
	return 0
}
