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
	for _, observe := range h.cfg.observers {
		observe(step)
	}
}

// invoke is run without the report: it returns the step, whose Err is the
// *PluginError run returns.
func (h *Host) invoke(ctx context.Context, e *entry, op, handler string, fn hook) Step {
	timeout := h.cfg.timeouts[op]
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

// startAll runs the start phases. On a required failure it rolls back and
// returns the failure joined with the rollback errors. With preview set it
// stops after the Wrap phase and cleans up, starting nothing.
func (h *Host) startAll(ctx context.Context, r *resolved, preview bool) error {
	for _, e := range r.entries {
		e.state.Store(int32(Starting))
	}
	for _, e := range r.lifecycle { // before any hook reads them; Plan leaves the plugins alone
		e.fileOpts.apply()
	}
	fail := func(err error) error {
		rb := h.stopAll(context.WithoutCancel(ctx), r)
		return errors.Join(err, rb)
	}

	for _, e := range r.lifecycle {
		if err := h.gate(e, r); err != nil {
			return fail(err)
		}
		if e.failed != nil || e.hooks.provision == nil {
			e.provisioned = e.failed == nil
			continue
		}
		e.provisioned = true // cleaned up even if Provision fails
		s := &Setup{h: h, e: e, logger: h.cfg.logger.With("plugin", e.info.Name, "version", e.info.Version)}
		if err := h.run(ctx, e, OpProvision, "", func(ctx context.Context) error { return e.hooks.provision(ctx, s) }); err != nil {
			if err := h.failed(e, err); err != nil {
				return fail(err)
			}
		}
	}

	var verrs []error
	for _, e := range r.lifecycle {
		if err := h.gate(e, r); err != nil {
			verrs = append(verrs, err)
			continue
		}
		if e.failed != nil || e.hooks.validate == nil {
			continue
		}
		if err := h.run(ctx, e, OpValidate, "", e.hooks.validate); err != nil {
			if err := h.failed(e, err); err != nil {
				verrs = append(verrs, err)
			}
		}
	}
	if len(verrs) > 0 {
		return fail(errors.Join(verrs...))
	}

	chains, snaps, err := h.wrapAll(ctx, r, nil)
	if err != nil {
		return fail(err)
	}
	for i, ch := range chains {
		ch.snap.Store(snaps[i])
	}
	h.mu.Lock()
	h.chains = chains
	h.mu.Unlock()
	if preview {
		return h.stopAll(context.WithoutCancel(ctx), r)
	}
	bind := func(e *entry) hook {
		if e.hooks.bind == nil {
			return nil
		}
		return func(ctx context.Context) error { return e.hooks.bind(ctx, chains) }
	}
	if err := h.phase(ctx, r, OpBind, bind, nil); err != nil {
		return fail(err)
	}

	if err := h.phase(ctx, r, OpBeforeStart, func(e *entry) hook { return e.hooks.beforeStart }, nil); err != nil {
		return fail(err)
	}
	markStarted := func(e *entry) {
		h.mu.Lock()
		h.started = append(h.started, e)
		h.mu.Unlock()
	}
	if err := h.phase(ctx, r, OpStart, func(e *entry) hook { return e.hooks.start }, markStarted); err != nil {
		return fail(err)
	}
	if err := h.phase(ctx, r, OpAfterStart, func(e *entry) hook { return e.hooks.afterStart }, nil); err != nil {
		return fail(err)
	}
	for _, e := range r.lifecycle {
		if e.failed == nil {
			e.state.Store(int32(OK))
		}
	}
	return nil
}

// phase runs one hook for every plugin in lifecycle order, stopping at the
// first required failure. ok is called for each plugin that passed.
func (h *Host) phase(ctx context.Context, r *resolved, op string, pick func(*entry) hook, ok func(*entry)) error {
	for _, e := range r.lifecycle {
		if err := h.gate(e, r); err != nil {
			return err
		}
		if e.failed != nil {
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
			e.started = true
			ok(e)
		}
	}
	return nil
}

// gate fails e when one of its required dependencies failed (an optional
// plugin that was left out). It returns nil for an optional e, which is
// left out too.
func (h *Host) gate(e *entry, _ *resolved) error {
	if e.failed != nil {
		return nil //nolint:nilerr // e already failed as an optional plugin and was logged: gate reports only new failures
	}
	for _, d := range e.deps {
		if d.failed == nil {
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
			Found: []string{d.info.Version}, Err: d.failed}
		return h.failed(e, err)
	}
	return nil
}

// failed records a failure of e. It returns err when e is required (the
// host must fail), and nil when e is optional (the host goes on without it).
func (h *Host) failed(e *entry, err error) error {
	e.state.Store(int32(Failed))
	if e.info.Policy != Optional {
		return err
	}
	e.failed = err
	h.cfg.logger.Error("optional plugin failed; the host runs without it",
		"plugin", e.info.Name, "version", e.info.Version, "err", err)
	return nil
}

// stopAll runs Stop for every started plugin in reverse start order, then
// Cleanup for every provisioned plugin in reverse lifecycle order.
func (h *Host) stopAll(ctx context.Context, r *resolved) error {
	h.mu.Lock()
	started := h.started
	h.started = nil
	h.mu.Unlock()

	var errs []error
	for _, e := range r.lifecycle {
		e.state.Store(int32(Stopping))
	}
	for i := len(started) - 1; i >= 0; i-- {
		e := started[i]
		if e.hooks.stop != nil {
			if err := h.run(ctx, e, OpStop, "", e.hooks.stop); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for i := len(r.lifecycle) - 1; i >= 0; i-- {
		e := r.lifecycle[i]
		if e.provisioned && e.hooks.cleanup != nil {
			if err := h.run(ctx, e, OpCleanup, "", e.hooks.cleanup); err != nil {
				errs = append(errs, err)
			}
		}
		e.state.Store(int32(Stopped))
	}
	return errors.Join(errs...)
}
