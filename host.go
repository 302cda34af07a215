package ply

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
)

type hostState int

const (
	stateNew hostState = iota
	stateStarting
	stateStarted
	stateStopping
	stateStopped
	stateFailed
)

// Host registers plugins, resolves their order and dependencies, and runs
// their lifecycle. Create one with [New]; a process may hold several, and
// they share nothing. A Host is safe for concurrent use.
type Host struct {
	cfg atomic.Pointer[config] // replaced by a reload with new options; read it with config()

	mu       sync.Mutex
	regs     []Plugin
	modules  []*Module // mounted with Mount; the options' modules are in cfg
	state    hostState
	resolved *resolved // the current generation's plan, from the build on
	chains   []*Chain  // one per handler, in mount order, from the Wrap phase on

	life   lifeLock // serializes start, reloads, lazy upgrades and stop
	gen    atomic.Pointer[generation]
	genIDs uint64         // under life
	drains sync.WaitGroup // replaced generations still draining in the background

	previewing atomic.Bool // set by Preview before any hook runs
}

func (h *Host) config() *config { return h.cfg.Load() }

// lifeLock is a mutex that a waiter can give up on: a call that must wait
// for a reload to end waits within its context.
type lifeLock chan struct{}

func (l lifeLock) Lock()   { l <- struct{}{} }
func (l lifeLock) Unlock() { <-l }

// LockContext locks l, or returns ctx's cause if ctx ends first.
func (l lifeLock) LockContext(ctx context.Context) error {
	select {
	case l <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (h *Host) resolvedPlan() *resolved {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.resolved
}

// New returns a host for plugins, registered in that order (which matters
// only between plugins of equal priority). It returns an error only for
// invalid options; problems with the plugins are reported all at once by
// [Host.Plan] and [Host.Start].
func New(plugins []Plugin, opts ...Option) (*Host, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	h := &Host{regs: append([]Plugin(nil), plugins...), life: make(lifeLock, 1)}
	h.cfg.Store(&cfg)
	return h, nil
}

// Register adds plugins after those already registered. The options given
// to [New] apply to them as to the plugins given there: they name plugins
// ([WithOptions], [WithPriority], a default of [WithDefaults] they
// replace) and are matched at build. It returns [ErrStarted] once
// [Host.Start] was called.
func (h *Host) Register(plugins ...Plugin) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state != stateNew {
		return ErrStarted
	}
	h.regs = append(h.regs, plugins...)
	return nil
}

func (h *Host) registry() (*Host, *resolved, *entry) {
	if g := h.gen.Load(); g != nil {
		return h, g.r, nil
	}
	return h, h.resolvedPlan(), nil
}

// Plan resolves the registered plugins without running any hook and
// without writing into them: names, versions, duplicates, dependencies and
// their constraints, Before/After constraints, options and cycles. Options
// from a file ([WithOptions]) are decoded into a new value to be checked;
// only Start puts them in the plugin's options struct. Plan reports every
// problem it finds, joined; match them with [errors.Is] ([ErrDuplicate],
// [ErrInvalidInfo] and its kinds [ErrEmptyName] and [ErrUnknownName],
// [ErrNotRegistered], [ErrVersionMismatch]) and [errors.As]
// ([*DependencyError], [*CycleError], [*option.Error]).
func (h *Host) Plan() (*Plan, error) {
	r, err := h.build()
	if err != nil {
		return nil, err
	}
	return &Plan{r: r, h: h}, nil
}

// Start builds the plan (returning its problems as [Host.Plan] does, before
// any hook runs), puts options from files in place, and runs the
// lifecycle: Provision, Validate, Wrap (every [Wrapper] contributes to every
// handler's chain), Bind (every [Binder] receives the chains), BeforeStart,
// Start and AfterStart, each phase for every plugin (in lifecycle order)
// before the next. Every hook runs under its timeout and under recover: a
// panic becomes a [*PluginError] whose Err is a [*PanicError]; a hook
// abandoned at its timeout, one whose Err matches [ErrHookTimeout].
//
// When a required plugin fails, Start rolls back: it stops the plugins whose
// Start succeeded, in reverse, then cleans up every plugin whose Provision
// was called, in reverse lifecycle order, and returns the failure (a
// [*PluginError] naming the plugin and the phase) joined with any rollback
// errors. An Optional plugin that fails is left out and logged; the host
// goes on. Start returns [ErrStarted] if called twice.
func (h *Host) Start(ctx context.Context) error {
	if err := h.claim(); err != nil {
		return err
	}
	err := h.begin(ctx, false)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.state = stateFailed
		return err
	}
	h.state = stateStarted
	return nil
}

// Preview runs what Start would run up to the chains — Provision, Validate
// and Wrap — then cleans up, starting nothing and binding nothing. It
// returns every handler's chain, to explain (see [Chain.Explain]), not to
// serve: the plugins behind it were cleaned up. The host cannot be started
// afterwards. Plugins can tell a preview from a start with [Setup.Preview].
func (h *Host) Preview(ctx context.Context) ([]*Chain, error) {
	if err := h.claim(); err != nil {
		return nil, err
	}
	h.previewing.Store(true)
	err := h.begin(ctx, true)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.state = stateStopped
	if err != nil {
		return nil, err
	}
	return append([]*Chain(nil), h.chains...), nil
}

// claim moves a new host to starting, or returns ErrStarted.
func (h *Host) claim() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state != stateNew {
		return ErrStarted
	}
	h.state = stateStarting
	return nil
}

// begin builds a claimed host and runs its start phases (up to Wrap for a
// preview). The caller sets the final state.
func (h *Host) begin(ctx context.Context, preview bool) error {
	h.life.Lock()
	defer h.life.Unlock()
	r, err := h.build()
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.resolved = r
	h.mu.Unlock()
	return h.startAll(ctx, r, preview)
}

// Stop runs every Stop hook, in reverse start order, then every Cleanup hook,
// in reverse lifecycle order; each runs even when others fail, and the
// errors are joined in the order the hooks ran. Stop is idempotent, and runs
// no hook when the host never started or its Start failed (Start already
// rolled back).
func (h *Host) Stop(ctx context.Context) error {
	h.mu.Lock()
	if h.state != stateStarted {
		h.mu.Unlock()
		return nil
	}
	h.state = stateStopping
	h.mu.Unlock()

	h.life.Lock() // a reload in progress finishes first
	err := h.stopAll(ctx)
	h.life.Unlock()
	err = errors.Join(err, h.awaitDrains(ctx))

	h.mu.Lock()
	h.state = stateStopped
	h.mu.Unlock()
	return err
}

// Run starts the host, waits until ctx is done or the process receives
// SIGINT or SIGTERM, and stops it within the stop timeout
// ([WithStopTimeout]). It returns the start error, or the stop errors.
func (h *Host) Run(ctx context.Context) error {
	ctx, cancel := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := h.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	sctx, stop := context.WithTimeout(context.WithoutCancel(ctx), h.config().stopTimeout)
	defer stop()
	return h.Stop(sctx)
}
