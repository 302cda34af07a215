package ply

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Backoff between failed loads of a lazy plugin: doubling from the first
// to the last.
const (
	lazyFirstRetry = 100 * time.Millisecond
	lazyLastRetry  = 30 * time.Second
)

// lazyLoad loads a lazy plugin's instance at its first use, once.
type lazyLoad struct {
	h      *Host
	r      *resolved // the plan the instance was made for
	e      *entry    // its entry there
	loaded atomic.Bool

	placeholder Wrap       // what it gives every chain before it is loaded
	wrapMu      sync.Mutex // serializes the chains' first Wraps
	mu          sync.Mutex
	running     chan struct{} // closed when the load in progress ends; nil when none runs
	err         error         // the last load's failure
	retry       time.Time     // no new load before then, after a failure
	wait        time.Duration // the next backoff
}

func newLazyLoad(h *Host, r *resolved, e *entry) *lazyLoad {
	l := &lazyLoad{h: h, r: r, e: e, wait: lazyFirstRetry}
	l.placeholder = Wrap{Layer: l.layer, After: l.after}
	return l
}

// load loads the plugin unless it is loaded, waiting within ctx for a load
// that another caller runs. A failed load is returned to every caller that
// waited for it, and to every caller until the backoff lets the next try.
func (l *lazyLoad) load(ctx context.Context) error {
	if l.loaded.Load() {
		return nil
	}
	l.mu.Lock()
	if l.loaded.Load() {
		l.mu.Unlock()
		return nil
	}
	if running := l.running; running != nil {
		l.mu.Unlock()
		select {
		case <-running:
		case <-ctx.Done():
			return fmt.Errorf("plugin %s: waiting for its lazy load: %w", l.e.info.Name, context.Cause(ctx))
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.loaded.Load() {
			return nil
		}
		return l.err
	}
	if l.err != nil && time.Now().Before(l.retry) {
		defer l.mu.Unlock()
		return l.err
	}
	running := make(chan struct{})
	l.running = running
	l.mu.Unlock()

	// The load outlives the caller that happens to run it: the others wait
	// for it within their own contexts.
	err := l.bringUp(context.WithoutCancel(ctx))

	l.mu.Lock()
	if err != nil {
		l.err, l.retry = err, time.Now().Add(l.wait)
		l.wait = min(2*l.wait, lazyLastRetry)
	} else {
		l.loaded.Store(true)
	}
	l.running = nil
	l.mu.Unlock()
	close(running)
	return err
}

// settle waits for a load in progress to end.
func (l *lazyLoad) settle() {
	l.mu.Lock()
	running := l.running
	l.mu.Unlock()
	if running != nil {
		<-running
	}
}

// bringUp loads the plugin's lazy dependencies, then runs the plugin's
// start phases against the current generation's plan. A failure takes back
// what ran and leaves the plugin lazy, to be tried again.
func (l *lazyLoad) bringUp(ctx context.Context) error {
	h, r, e := l.h, l.r, l.e
	h.mu.Lock()
	state := h.state
	h.mu.Unlock()
	if state != stateStarted && state != stateStarting {
		return fmt.Errorf("plugin %s: lazy load: %w", e.info.Name, ErrNotStarted)
	}
	if g := h.gen.Load(); g != nil { // once the instance serves, its current plan has the providers to look up
		for _, cur := range g.r.entries {
			if cur.instance == e.instance {
				r, e = g.r, cur
				break
			}
		}
	}
	for _, d := range e.deps {
		if d.lazy != nil {
			if err := d.lazy.load(ctx); err != nil {
				return &DependencyError{Plugin: e.info.Name, Version: e.info.Version, Dependency: d.info.Name,
					Found: []string{d.info.Version}, Err: err}
			}
		}
	}
	e.state.Store(int32(StateLoading))
	e.failure.Store(nil)
	b := &bringUp{h: h, r: r, set: []*entry{e}}
	err := b.provision(ctx)
	if err == nil {
		err = b.start(ctx, h.Chains())
	}
	if err == nil && e.failed() != nil { // an optional plugin fails its callers too, this time
		err = e.failed()
	}
	if err != nil {
		err = errors.Join(err, b.rollback(ctx))
		h.mu.Lock()
		e.apis = nil // taken back with the rest: the next load provides them again
		h.mu.Unlock()
		e.state.Store(int32(StateLazy))
		return err
	}
	return nil
}

// wrap returns what a lazy plugin contributes to a chain before it is
// loaded: a layer that loads it at the chain's first call, runs its Wrap
// for the chain once, and from then on calls what Wrap gave. The funcs are
// the plugin's, shared by every chain; what Wrap gave a chain is kept in
// the chain's level, so a lazy plugin costs a chain no allocation.
func (l *lazyLoad) wrap() Wrap { return l.placeholder }

// wrapped returns what the plugin's Wrap gave chain s, whose level lv is
// the plugin's, running Wrap at the chain's first call.
func (l *lazyLoad) wrapped(ctx context.Context, s *compiled, lv *level) (*Wrap, error) {
	if got := lv.lazy.Load(); got != nil {
		return got, nil
	}
	if err := l.load(ctx); err != nil {
		return nil, err
	}
	l.wrapMu.Lock()
	defer l.wrapMu.Unlock()
	if got := lv.lazy.Load(); got != nil {
		return got, nil
	}
	e := l.e
	t := Target{Handler: s.handler, Module: s.module, Options: s.opts[e.info.Name]}
	var got Wrap
	err := l.h.run(ctx, e, OpWrap, s.module.Name+"/"+s.handler.Name, func(ctx context.Context) error {
		var err error
		got, err = e.hooks.wrap(ctx, t)
		return err
	})
	if err != nil {
		return nil, err
	}
	lv.lazy.Store(&got)
	return &got, nil
}

func (l *lazyLoad) layer(ctx context.Context, c *Call, next Next) error {
	got, err := l.wrapped(ctx, c.s, &c.s.levels[next.lvl])
	if err != nil {
		return err
	}
	if got.Layer == nil {
		return next.Run(ctx)
	}
	return got.Layer(ctx, c, next)
}

func (l *lazyLoad) after(ctx context.Context, c *Call, err error, ran bool) error {
	for i := range c.s.hooks { // the plugin's own after-hook entry says which level is its
		a := &c.s.hooks[i]
		if a.e.instance != l.e.instance || a.lvl < 0 {
			continue
		}
		got := c.s.levels[a.lvl].lazy.Load()
		if got == nil || got.After == nil {
			return err
		}
		return got.After(ctx, c, err, ran)
	}
	return err
}
