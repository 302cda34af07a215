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

	mu      sync.Mutex
	running chan struct{} // closed when the load in progress ends; nil when none runs
	err     error         // the last load's failure
	retry   time.Time     // no new load before then, after a failure
	wait    time.Duration // the next backoff
}

func newLazyLoad(h *Host, r *resolved, e *entry) *lazyLoad {
	return &lazyLoad{h: h, r: r, e: e, wait: lazyFirstRetry}
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
