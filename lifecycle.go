package ply

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"
)

type hook = func(context.Context) error

// hooks are a plugin's lifecycle capabilities, found once at build. A nil
// field is a capability the plugin does not have.
type hooks struct {
	provision                                               func(context.Context, *Setup) error
	validate, beforeStart, start, afterStart, stop, cleanup hook
	wrap                                                    func(context.Context, Target) (Wrap, error)
	bind                                                    func(context.Context, []*Chain) error
	handlerOpts                                             func() any
}

func hooksOf(p Plugin) hooks {
	switch f := p.(type) {
	case Func:
		return f.hooks()
	case *Func:
		return f.hooks()
	}
	var hs hooks
	if v, ok := p.(Provisioner); ok {
		hs.provision = v.Provision
	}
	if v, ok := p.(Validator); ok {
		hs.validate = v.Validate
	}
	if v, ok := p.(BeforeStarter); ok {
		hs.beforeStart = v.BeforeStart
	}
	if v, ok := p.(Starter); ok {
		hs.start = v.Start
	}
	if v, ok := p.(AfterStarter); ok {
		hs.afterStart = v.AfterStart
	}
	if v, ok := p.(Stopper); ok {
		hs.stop = v.Stop
	}
	if v, ok := p.(Cleaner); ok {
		hs.cleanup = v.Cleanup
	}
	if v, ok := p.(Wrapper); ok {
		hs.wrap = v.Wrap
	}
	if v, ok := p.(Binder); ok {
		hs.bind = v.Bind
	}
	if v, ok := p.(HandlerConfigurable); ok {
		hs.handlerOpts = v.HandlerOptions
	}
	return hs
}

func (f Func) hooks() hooks {
	return hooks{f.OnProvision, f.OnValidate, f.OnBeforeStart, f.OnStart, f.OnAfterStart, f.OnStop, f.OnCleanup,
		f.OnWrap, f.OnBind, f.HandlerOpts}
}

// hookGrace is how long past its deadline a hook may take to return: one
// that returns its context's error as told keeps its own result, instead of
// racing the kernel to report it and being taken for one that hung.
const hookGrace = 10 * time.Millisecond

// await decides, once a hook's context is done, whether to keep waiting:
// past its deadline (its own timeout or the caller's) and a short grace,
// the hook is abandoned; a cancelled hook has been told to stop and still
// gets until then to return.
func (h *Host) await(ctx context.Context, done <-chan error, timeout time.Duration) error {
	deadline, _ := ctx.Deadline() // run always sets one
	t := time.NewTimer(time.Until(deadline) + hookGrace)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
	}
	return fmt.Errorf("abandoned (hook timeout %v): %w", timeout, ErrHookTimeout)
}

// run calls fn under the op's timeout and under recover, reports the step to
// the observers and returns a *PluginError on failure. A hook that outlives
// its deadline is abandoned: its goroutine is left to finish on its own.
func (h *Host) run(ctx context.Context, e *entry, op, handler string, fn hook) error {
	step := h.invoke(ctx, e, op, handler, fn)
	h.report(step)
	return step.Err
}

// report passes step to the observers.
func (h *Host) report(step Step) {
	for _, observe := range h.config().observers {
		observe(step)
	}
}

// invoke is run without the report: it returns the step, whose Err is the
// *PluginError run returns.
func (h *Host) invoke(ctx context.Context, e *entry, op, handler string, fn hook) Step {
	timeout := h.config().timeouts[op]
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan error, 1) // buffered: an abandoned hook still finishes without blocking
	start := time.Now()
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- &PanicError{Value: v, Stack: debug.Stack()}
			}
		}()
		done <- fn(ctx)
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = h.await(ctx, done, timeout)
	}
	step := Step{Op: op, Plugin: e.info.Name, Version: e.info.Version, Handler: handler, Duration: time.Since(start)}
	if err != nil {
		step.Err = &PluginError{Op: op, Plugin: e.info.Name, Version: e.info.Version, Err: err}
	}
	return step
}

// bringUp brings a set of instances up: the whole plan at Start, the new
// instances of a reload, a lazy plugin at its first use. On a required
// failure, rollback takes back what it did.
type bringUp struct {
	h       *Host
	r       *resolved
	set     []*entry          // in lifecycle order
	from    map[*entry]*entry // a reload: the entry each new one replaces, for the state hand-off
	started []*entry          // whose Start succeeded, in start order
}

// provision runs Provision for the set, hands the replaced instances'
// state over (a reload), then runs Validate for the set; Validate failures
// are all reported, joined.
func (b *bringUp) provision(ctx context.Context) error {
	h := b.h
	for _, e := range b.set {
		if e.lazy == nil { // a lazy load shows StateLoading, set by lazyLoad.bringUp
			e.state.Store(int32(StateStarting))
		}
		e.fileOpts.apply() // before any hook reads them; Plan leaves the plugins alone
	}
	for _, e := range b.set {
		if err := h.gate(e); err != nil {
			return err
		}
		if e.failed() != nil {
			continue
		}
		e.provisioned.Store(true) // cleaned up even if Provision fails
		if e.hooks.provision == nil {
			continue
		}
		s := &Setup{h: h, r: b.r, e: e, logger: h.config().logger.With("plugin", e.info.Name, "version", e.info.Version)}
		if err := h.run(ctx, e, OpProvision, "", func(ctx context.Context) error { return e.hooks.provision(ctx, s) }); err != nil {
			if err := h.failed(e, err); err != nil {
				return err
			}
		}
	}
	for _, e := range b.set {
		if old := b.from[e]; old != nil && e.failed() == nil {
			if err := h.handOff(ctx, old, e); err != nil {
				if err := h.failed(e, err); err != nil {
					return err
				}
			}
		}
	}
	var errs []error
	for _, e := range b.set {
		if err := h.gate(e); err != nil {
			errs = append(errs, err)
			continue
		}
		if e.failed() != nil || e.hooks.validate == nil {
			continue
		}
		if err := h.run(ctx, e, OpValidate, "", e.hooks.validate); err != nil {
			if err := h.failed(e, err); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// start runs Bind for the set's binders, then BeforeStart, Start and
// AfterStart for the set, each phase for every instance before the next.
func (b *bringUp) start(ctx context.Context, chains []*Chain) error {
	bind := func(e *entry) hook {
		if e.hooks.bind == nil {
			return nil
		}
		return func(ctx context.Context) error { return e.hooks.bind(ctx, chains) }
	}
	if err := b.phase(ctx, OpBind, bind, nil); err != nil {
		return err
	}
	if err := b.phase(ctx, OpBeforeStart, func(e *entry) hook { return e.hooks.beforeStart }, nil); err != nil {
		return err
	}
	markStarted := func(e *entry) {
		e.started.Store(true)
		b.started = append(b.started, e)
	}
	if err := b.phase(ctx, OpStart, func(e *entry) hook { return e.hooks.start }, markStarted); err != nil {
		return err
	}
	if err := b.phase(ctx, OpAfterStart, func(e *entry) hook { return e.hooks.afterStart }, nil); err != nil {
		return err
	}
	for _, e := range b.set {
		if e.failed() == nil {
			e.state.Store(int32(StateOK))
		}
	}
	return nil
}

// phase runs one hook for every instance of the set, stopping at the first
// required failure. ok is called for each instance that passed.
func (b *bringUp) phase(ctx context.Context, op string, pick func(*entry) hook, ok func(*entry)) error {
	h := b.h
	for _, e := range b.set {
		if err := h.gate(e); err != nil {
			return err
		}
		if e.failed() != nil {
			continue
		}
		if fn := pick(e); fn != nil {
			if err := h.run(ctx, e, op, "", fn); err != nil {
				if err := h.failed(e, err); err != nil {
					return err
				}
				continue
			}
		}
		if ok != nil {
			ok(e)
		}
	}
	return nil
}

// rollback stops the instances whose Start succeeded, in reverse, then
// cleans up every instance of the set whose Provision was called, in
// reverse lifecycle order.
func (b *bringUp) rollback(ctx context.Context) error {
	started := b.started
	b.started = nil
	return b.h.bringDown(ctx, started, b.set)
}

// bringDown stops the started instances, in reverse, then cleans up the
// provisioned ones of set, in reverse. Every hook runs even when others
// fail; the errors are joined in the order the hooks ran.
func (h *Host) bringDown(ctx context.Context, started, set []*entry) error {
	var errs []error
	for _, e := range set {
		e.state.Store(int32(StateStopping))
	}
	for i := len(started) - 1; i >= 0; i-- {
		e := started[i]
		e.started.Store(false)
		if e.hooks.stop != nil {
			if err := h.run(ctx, e, OpStop, "", e.hooks.stop); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for i := len(set) - 1; i >= 0; i-- {
		e := set[i]
		if e.provisioned.Swap(false) && e.hooks.cleanup != nil {
			if err := h.run(ctx, e, OpCleanup, "", e.hooks.cleanup); err != nil {
				errs = append(errs, err)
			}
		}
		e.state.Store(int32(StateStopped))
	}
	return errors.Join(errs...)
}

// startAll brings the whole plan up and publishes its first generation. On
// a required failure it rolls back and returns the failure joined with the
// rollback errors. With preview set it stops after the Wrap phase and
// cleans up, starting nothing.
func (h *Host) startAll(ctx context.Context, r *resolved, preview bool) error {
	b := &bringUp{h: h, r: r}
	for _, e := range r.lifecycle {
		if e.info.Lazy && !preview {
			e.lazy = newLazyLoad(h, r, e)
			e.state.Store(int32(StateLazy))
			continue
		}
		b.set = append(b.set, e)
	}
	fail := func(err error) error {
		err = errors.Join(err, b.rollback(context.WithoutCancel(ctx)))
		// Lazy plugins that a lookup loaded during the start, as the set's
		// dependencies, go after it.
		var lazy []*entry
		for _, e := range r.lifecycle {
			if e.lazy != nil {
				lazy = append(lazy, e)
			}
		}
		return errors.Join(err, h.bringDown(context.WithoutCancel(ctx), startedOf(lazy), lazy))
	}
	if err := b.provision(ctx); err != nil {
		return fail(err)
	}
	var tn *tenancy
	if cfg := h.config(); tenantsOn(cfg, r) {
		var err error
		if tn, err = h.newTenancy(ctx, r, *cfg); err != nil {
			return fail(err)
		}
		inner := fail
		fail = func(err error) error { return inner(errors.Join(err, tn.stop(context.WithoutCancel(ctx)))) }
	}
	chains := make([]*Chain, len(r.handlers))
	for i, hr := range r.handlers {
		chains[i] = &Chain{h: h, idx: i, module: hr.module.Name, name: hr.handler.Name}
	}
	snaps, err := h.compile(ctx, r, chains, nil, h.config().bake.period > 0)
	if err != nil {
		return fail(err)
	}
	h.genIDs++
	g := newGeneration(h.genIDs, r, snaps, h.config().drainGrace)
	_, g.observers = observersOf(r)
	g.tn = tn
	h.gen.Store(g)
	h.mu.Lock()
	h.chains = chains
	h.mu.Unlock()
	if preview {
		var err error
		if tn != nil { // compiled now, to be explained once the plugins are cleaned up
			err = tn.compileAll(ctx, chains)
			err = errors.Join(err, tn.stop(context.WithoutCancel(ctx)))
		}
		return errors.Join(err, b.rollback(context.WithoutCancel(ctx)))
	}
	if err := b.start(ctx, chains); err != nil {
		return fail(err)
	}
	if tn != nil {
		if err := tn.start(ctx); err != nil {
			return fail(err)
		}
	}
	return nil
}

// stopAll brings every instance of the current generation down: Stop for
// the started ones in reverse lifecycle order, then Cleanup for the
// provisioned ones, in reverse.
func (h *Host) stopAll(ctx context.Context) error {
	g := h.gen.Load()
	if g == nil {
		return nil
	}
	var tenants error
	if g.tn != nil { // tenants' own instances depend on the host's: they stop first
		tenants = g.tn.stop(ctx)
	}
	var started []*entry
	for _, e := range g.r.lifecycle {
		if e.lazy != nil {
			e.lazy.settle() // a load in progress finishes first: it is stopped with the rest
		}
		if e.started.Load() {
			started = append(started, e)
		}
	}
	return errors.Join(tenants, h.bringDown(ctx, started, g.r.lifecycle))
}

// gate fails e when one of its required dependencies failed (an optional
// plugin that was left out). It returns nil for an optional e, which is
// left out too.
func (h *Host) gate(e *entry) error {
	if e.failed() != nil {
		return nil //nolint:nilerr // e already failed as an optional plugin and was logged: gate reports only new failures
	}
	for _, d := range e.deps {
		derr := d.failed()
		if derr == nil {
			continue
		}
		required := false
		for _, req := range e.info.Requires {
			required = required || (req.Name == d.info.Name && !req.Optional)
		}
		if !required {
			continue
		}
		err := &DependencyError{Plugin: e.info.Name, Version: e.info.Version, Dependency: d.info.Name,
			Found: []string{d.info.Version}, Err: derr}
		return h.failed(e, err)
	}
	return nil
}

// failed records a failure of e. It returns err when e is required (the
// host must fail), and nil when e is optional (the host goes on without it).
func (h *Host) failed(e *entry, err error) error {
	e.state.Store(int32(StateFailed))
	if e.info.Policy != PolicyOptional {
		return err
	}
	e.failure.Store(&err)
	h.config().logger.Error("optional plugin failed; the host runs without it",
		"plugin", e.info.Name, "version", e.info.Version, "err", err)
	return nil
}
