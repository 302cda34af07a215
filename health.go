package ply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// State is a plugin's health state.
type State int32

// The health states, in the order a plugin goes through them.
const (
	StateStarting State = iota // registered, in the start phases
	StateOK                    // started and healthy
	StateDegraded              // started, serving with reduced service
	StateFailed                // failed a hook or its health check
	StateStopping              // in the stop phases
	StateStopped               // stopped and cleaned up
	StateLazy                  // lazy and not loaded yet: its first use loads it (Info.Lazy)
	StateLoading               // lazy and loading, for its first use
)

var stateNames = [...]string{"starting", "ok", "degraded", "failed", "stopping", "stopped", "lazy", "loading"}

func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int32(s))
}

// Status is one plugin's health.
type Status struct {
	Name, Version string
	Policy        Policy
	State         State
	Err           error // why it is degraded or failed
	// Tenant is set for an instance a tenant alone has (its options differ
	// from the host's); empty for the host's instances.
	Tenant string
}

// Health reports every plugin's state, in lifecycle order. For started
// plugins that implement [HealthChecker] it calls Health (under the
// [OpHealth] timeout and recover) and reports [StateOK], [StateDegraded] or [StateFailed].
// Before the host was built it returns nil.
//
// The checks run concurrently, and each plugin's result is reused for the
// time [WithHealthCache] sets (1s by default). At most one check per
// plugin runs at a time: a probe that arrives while another probe's check
// runs waits for that check's result (or for its own ctx); a probe that
// finds a check still running past its deadline — one that ignores its
// context — reports the plugin [StateFailed] with an error matching
// [ErrHookTimeout] and starts no other. The checks that ran are reported
// to the observers ([WithObserver]) from the calling goroutine, in
// lifecycle order, once all are done.
func (h *Host) Health(ctx context.Context) []Status {
	h.mu.Lock()
	r, running := h.resolved, h.state == stateStarted
	h.mu.Unlock()
	if r == nil {
		return nil
	}
	es, tenants := slices.Clone(r.lifecycle), make([]string, len(r.lifecycle))
	if g := h.gen.Load(); g != nil && g.tn != nil { // then the tenants' own instances
		es, tenants = g.tn.own(es, tenants)
	}
	out := make([]Status, len(es))
	steps := make([]*Step, len(es))
	var wg sync.WaitGroup
	for i, e := range es {
		out[i] = Status{Name: e.info.Name, Version: e.info.Version, Policy: e.info.Policy, State: State(e.state.Load()), Err: e.failed(), Tenant: tenants[i]}
		if hc, ok := e.p.(HealthChecker); ok && running && out[i].Err == nil && e.started.Load() { // re-checked: health recovers
			wg.Go(func() {
				var err error
				steps[i], err = h.check(ctx, e, hc)
				out[i].State, out[i].Err = e.judge(err)
			})
		}
	}
	wg.Wait()
	for _, step := range steps {
		if step != nil {
			h.report(*step)
		}
	}
	return out
}

// judge turns a check's result into e's state, which it records unless a
// concurrent Stop has moved e out of the running states.
func (e *entry) judge(err error) (State, error) {
	if pe, ok := errors.AsType[*PluginError](err); ok {
		err = pe.Err
	}
	st := StateOK
	switch {
	case err == nil:
	case errors.Is(err, ErrDegraded):
		st = StateDegraded
	default:
		st = StateFailed
	}
	for { // only a running state is replaced: a concurrent Stop wins
		cur := e.state.Load()
		if (cur != int32(StateOK) && cur != int32(StateDegraded) && cur != int32(StateFailed)) || e.state.CompareAndSwap(cur, int32(st)) {
			break
		}
	}
	return st, err
}

// probe is one plugin's health checking: the last result, and the check
// in flight, so that at most one runs at a time.
type probe struct {
	mu      sync.Mutex
	err     error         // the last result
	at      time.Time     // when it was taken; zero before the first check
	result  chan struct{} // closed once the running probe stored its result; nil when none runs
	running bool          // the check's goroutine has not returned: it may outlive its probe
	began   time.Time     // when the running check began
}

// check returns e's health: the cached result, the result of a check
// another probe runs, or that of a new check, whose step it also returns
// (nil otherwise).
func (h *Host) check(ctx context.Context, e *entry, hc HealthChecker) (*Step, error) {
	p := &e.probe
	p.mu.Lock()
	if !p.at.IsZero() && time.Since(p.at) < h.config().healthCache {
		defer p.mu.Unlock()
		return nil, p.err
	}
	if result := p.result; result != nil { // another probe runs the check: share its result
		p.mu.Unlock()
		select {
		case <-result:
			p.mu.Lock()
			defer p.mu.Unlock()
			return nil, p.err
		case <-ctx.Done():
			return nil, &PluginError{Op: OpHealth, Plugin: e.info.Name, Version: e.info.Version,
				Err: fmt.Errorf("waiting for the check in progress: %w", context.Cause(ctx))}
		}
	}
	if p.running { // an earlier check ignored its deadline: do not pile another on it
		defer p.mu.Unlock()
		return nil, &PluginError{Op: OpHealth, Plugin: e.info.Name, Version: e.info.Version,
			Err: fmt.Errorf("the check started %v ago has not returned: %w", time.Since(p.began).Round(time.Millisecond), ErrHookTimeout)}
	}
	result := make(chan struct{})
	p.result, p.running, p.began = result, true, time.Now()
	p.mu.Unlock()

	step := h.invoke(ctx, e, OpHealth, "", func(ctx context.Context) error {
		defer func() { // also when Health panics
			p.mu.Lock()
			p.running = false
			p.mu.Unlock()
		}()
		return hc.Health(ctx)
	})
	p.mu.Lock()
	p.err, p.at, p.result = step.Err, time.Now(), nil
	p.mu.Unlock()
	close(result)
	return &step, step.Err
}

// Ready returns nil when the host has started and every required plugin is
// OK or degraded. Otherwise it returns [ErrNotStarted], or an error naming
// each plugin that is not ready, joined; each wraps the plugin's error, so
// [errors.Is] and [errors.As] find its cause. It checks health as
// [Host.Health] does.
func (h *Host) Ready(ctx context.Context) error {
	h.mu.Lock()
	state := h.state
	h.mu.Unlock()
	if state != stateStarted {
		return ErrNotStarted
	}
	var errs []error
	for _, st := range h.Health(ctx) {
		if st.Policy != PolicyRequired || st.State == StateOK || st.State == StateDegraded {
			continue
		}
		if st.Err == nil {
			errs = append(errs, fmt.Errorf("plugin %s@%s is %s", st.Name, st.Version, st.State))
			continue
		}
		errs = append(errs, fmt.Errorf("plugin %s@%s is %s: %w", st.Name, st.Version, st.State, st.Err))
	}
	return errors.Join(errs...)
}
