package ply

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Change is a new configuration for a running host: what [Host.Reload]
// moves it to.
type Change struct {
	// Plugins are the new registrations, in registration order, as they
	// would be given to [New]; nil keeps the current ones. A plugin given
	// as the same object as before, with the same options, priority and
	// dependencies, carries over: it keeps running, untouched. A new object
	// (a new version, new options) replaces the old instance.
	Plugins []Plugin
	// Options are the new host options, replacing all of those given to
	// [New] (and to earlier reloads); nil keeps them. Modules mounted with
	// [Host.Mount] stay. A reload cannot add or remove handlers.
	Options []Option
	// Renew makes a fresh, unprovisioned instance configured like old. A
	// reload calls it for an unchanged plugin that must be rebuilt all the
	// same: one whose dependency is replaced, or one given as the same
	// object with new options. Without it, such a reload fails and names
	// the plugins to give anew.
	Renew func(old Plugin) Plugin
}

// Reloaded describes what a reload did.
type Reloaded struct {
	Generation uint64        // the generation serving afterwards
	Added      []string      // plugins new to the host, by ID
	Replaced   []string      // plugins rebuilt: a new instance took the old one's place
	Removed    []string      // plugins no longer in the host
	Chains     int           // chains recompiled; the others were carried over as they were
	Took       time.Duration // from the plan to the old generation stopped
	// RolledBack is why the bake swapped the old generation back in
	// ([WithBake]); nil when the new one stayed.
	RolledBack error
}

// How a reload ended, as [Reloaded.Outcome] names it for metrics and events.
const (
	ReloadOK         = "ok"          // the new configuration serves
	ReloadFailed     = "failed"      // nothing changed: the old configuration serves on
	ReloadRolledBack = "rolled_back" // the new configuration served, failed its bake and was swapped out ([WithBake])
)

// Outcome names how the reload that returned r and err ended: [ReloadOK],
// [ReloadFailed] or [ReloadRolledBack]. A reload whose old generation was
// still draining when its context ended is ok: the new one serves.
func (r Reloaded) Outcome(err error) string {
	switch {
	case r.RolledBack != nil:
		return ReloadRolledBack
	case err != nil && r.Generation == 0:
		return ReloadFailed
	}
	return ReloadOK
}

// NoChange reports whether the reload changed nothing.
func (r Reloaded) NoChange() bool {
	return len(r.Added)+len(r.Replaced)+len(r.Removed) == 0 && r.Chains == 0
}

func (r Reloaded) String() string {
	if r.NoChange() {
		return "no change"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "generation %d:", r.Generation)
	for _, part := range []struct {
		what string
		ids  []string
	}{{"added", r.Added}, {"replaced", r.Replaced}, {"removed", r.Removed}} {
		if len(part.ids) > 0 {
			fmt.Fprintf(&b, " %s %s;", part.what, strings.Join(part.ids, ", "))
		}
	}
	fmt.Fprintf(&b, " %d chains recompiled", r.Chains)
	if r.RolledBack != nil {
		fmt.Fprintf(&b, "; rolled back: %v", r.RolledBack)
	}
	return b.String()
}

// ReloadObserver is implemented by plugins that report reloads (an event
// on a bus, a metric): after every reload the host calls ObserveReload
// with what it did and its error, nil when it succeeded. It is called from
// the goroutine that reloaded, once the reload ended.
type ReloadObserver interface {
	ObserveReload(r Reloaded, err error)
}

// StateExporter is implemented by plugins that hand their state to the
// instance replacing them in a reload. The host calls ExportState on the
// old instance, which keeps serving meanwhile, after the new instance was
// provisioned and before it is validated and started.
//
// What changes after the export — updates made by calls that still run on
// the old generation while it drains — is not handed over: state that must
// not lose them belongs in shared storage (the kv package), not in the
// instance.
type StateExporter interface {
	ExportState(ctx context.Context) (any, error)
}

// StateImporter is implemented by plugins that take over the state of the
// instance they replace ([StateExporter]). from is the old instance's Info:
// a new version converts what an older one exported, or returns an error,
// which fails the reload.
type StateImporter interface {
	ImportState(ctx context.Context, state any, from Info) error
}

// Errors of a reload.
var (
	// ErrDrained is the cause of a call's context cancelled because its
	// generation was replaced and the drain's grace period ran out
	// ([WithDrainGrace]).
	ErrDrained = errors.New("ply: generation replaced; the drain's grace period ran out")
	// ErrRolledBack: the bake after a reload swapped the old generation
	// back in ([WithBake]).
	ErrRolledBack = errors.New("ply: reload rolled back")
	// ErrReloadUnsupported: the change is one a reload cannot make (adding
	// or removing handlers); restart the host.
	ErrReloadUnsupported = errors.New("ply: a reload cannot make this change")
)

// Reload moves a started host to a new configuration without stopping it.
// It plans the change (every problem joined; nothing is touched if there is
// one), then brings up only what changed: the plugins that are new or
// replaced and the plugins that depend on them. Each replaced instance
// hands its state to its successor ([StateExporter], [StateImporter]); the
// new instances are validated, wrap the chains they take part in and
// start; then every chain swaps to the new generation at once. Calls in
// flight finish on the generation they started on: Reload waits for them
// (see [WithDrainGrace]), then stops and cleans up the replaced and removed
// instances, in reverse order. Unchanged instances carry over as the same
// objects, and a chain none of whose parts changed keeps its compiled form.
//
// A failure before the swap rolls back — the new instances are stopped and
// cleaned up, the old generation never stopped serving — and returns the
// failure, attributed to its plugin, joined with the rollback's errors. A
// change that changes nothing does nothing. With [WithBake], Reload then
// watches the new generation and swaps the old one back if it fails more
// (Reloaded.RolledBack, and an error matching [ErrRolledBack]).
//
// If ctx ends while the old generation drains, Reload returns and the
// drain goes on: [Host.Stop] waits for it. Reloads, Start and Stop run one
// at a time. Reload returns an error matching [ErrNotStarted] unless the
// host has started.
func (h *Host) Reload(ctx context.Context, c Change) (Reloaded, error) {
	h.life.Lock()
	defer h.life.Unlock()
	h.mu.Lock()
	state, cfg, regs := h.state, *h.config(), h.regs
	h.mu.Unlock()
	if state != stateStarted {
		return Reloaded{}, fmt.Errorf("ply: Reload: %w", ErrNotStarted)
	}
	began := time.Now()
	if c.Options != nil {
		var err error
		if cfg, err = newConfig(c.Options); err != nil {
			return Reloaded{}, h.observed(Reloaded{}, err)
		}
	}
	if c.Plugins != nil {
		regs = slices.Clone(c.Plugins)
	}
	rl, err := h.reload(ctx, cfg, regs, c.Renew)
	rl.Took = time.Since(began)
	return rl, h.observed(rl, err)
}

// observed reports a reload to the log and the ReloadObservers.
func (h *Host) observed(rl Reloaded, err error) error {
	log := h.config().logger
	switch {
	case err != nil:
		log.Error("reload failed; the host serves as before", "err", err)
	case rl.NoChange():
		log.Info("reload: no change")
	default:
		log.Info("reloaded", "generation", rl.Generation, "added", rl.Added, "replaced", rl.Replaced,
			"removed", rl.Removed, "chains", rl.Chains, "took", rl.Took)
	}
	for _, e := range h.gen.Load().r.lifecycle {
		if o, ok := e.p.(ReloadObserver); ok && e.started.Load() {
			o.ObserveReload(rl, err)
		}
	}
	return err
}

func (h *Host) reload(ctx context.Context, cfg config, regs []Plugin, renew func(Plugin) Plugin) (Reloaded, error) {
	old := h.gen.Load()
	h.mu.Lock()
	mounted := slices.Clone(h.modules)
	h.mu.Unlock()
	r, err := buildPlan(cfg, regs, mounted)
	if err != nil {
		return Reloaded{}, err
	}
	if err := sameHandlers(old.r, r); err != nil {
		return Reloaded{}, err
	}
	from, err := carryOver(old.r, r, cfg, renew)
	if err != nil {
		return Reloaded{}, err
	}

	var rl Reloaded
	b := &bringUp{h: h, r: r, from: from}
	kept := make(map[*instance]bool)
	var fresh []*entry // every new instance, lazy ones too, in lifecycle order
	for _, e := range r.lifecycle {
		if isNew(old.r, e) {
			fresh = append(fresh, e)
			switch {
			case from[e] != nil:
				rl.Replaced = append(rl.Replaced, e.info.ID())
			default:
				rl.Added = append(rl.Added, e.info.ID())
			}
			if e.info.Lazy {
				e.lazy = newLazyLoad(h, r, e)
				e.state.Store(int32(StateLazy))
				continue
			}
			b.set = append(b.set, e)
			continue
		}
		kept[e.instance] = true
	}
	var gone []*entry // the old instances to stop once drained, in lifecycle order
	for _, e := range old.r.lifecycle {
		if !kept[e.instance] {
			gone = append(gone, e)
			if !slices.ContainsFunc(r.entries, func(n *entry) bool { return n.info.Name == e.info.Name }) {
				rl.Removed = append(rl.Removed, e.info.ID())
			}
		}
	}

	fail := func(err error) (Reloaded, error) {
		return Reloaded{}, errors.Join(err, b.rollback(context.WithoutCancel(ctx)))
	}
	if err := b.provision(ctx); err != nil {
		return fail(err)
	}
	h.mu.Lock()
	chains := h.chains
	h.mu.Unlock()
	prevCfg := *h.config()
	snaps, err := h.compile(ctx, r, chains, old, cfg.bake.period > 0)
	if err != nil {
		return fail(err)
	}
	for i, s := range snaps {
		if s != old.snaps[i] {
			rl.Chains++
		}
	}
	var tn *tenancy
	switch {
	case !tenantsOn(&cfg, r):
	case len(b.set) == 0 && len(gone) == 0 && rl.NoChange() && old.tn != nil && sameTenants(old.tn.cfg, cfg.tn):
		tn = old.tn // the tenants and the plugins they share are as they were
	default:
		if tn, err = h.newTenancy(ctx, r, cfg); err != nil {
			return fail(err)
		}
		inner := fail
		fail = func(err error) (Reloaded, error) {
			rl, err := inner(err)
			return rl, errors.Join(err, tn.stop(context.WithoutCancel(ctx)))
		}
	}
	if len(b.set) == 0 && len(gone) == 0 && rl.NoChange() && tn == old.tn {
		h.mu.Lock()
		h.cfg.Store(&cfg)
		h.regs = regs
		h.mu.Unlock()
		rl.Generation = old.id
		return rl, nil
	}
	if err := b.start(ctx, chains); err != nil {
		return fail(err)
	}
	if tn != nil && tn != old.tn {
		if err := tn.start(ctx); err != nil {
			return fail(err)
		}
	}

	h.genIDs++
	next := newGeneration(h.genIDs, r, snaps, cfg.drainGrace)
	_, next.observers = observersOf(r)
	next.tn = tn
	h.swap(next, cfg, regs)
	rl.Generation = next.id

	if cfg.bake.period > 0 && rl.Chains > 0 {
		if why := h.bake(ctx, cfg.bake, old, next); why != nil {
			h.genIDs++
			back := newGeneration(h.genIDs, old.r, old.snaps, prevCfg.drainGrace)
			back.observers, back.tn = old.observers, old.tn
			h.swap(back, prevCfg, h.regs)
			var err error
			if tn != nil && tn != old.tn { // the rolled-back tenants' views run on its instances: retired first
				err = tn.retire(ctx)
			}
			err = errors.Join(err, h.retire(ctx, next, prevCfg.drainGrace, fresh))
			rl.Generation, rl.RolledBack = back.id, why
			return rl, errors.Join(fmt.Errorf("%w: %w", ErrRolledBack, why), err)
		}
	}
	var tenants error
	if old.tn != nil && old.tn != tn { // its views run on the old instances: drained first
		tenants = old.tn.retire(ctx)
	}
	return rl, errors.Join(tenants, h.retire(ctx, old, cfg.drainGrace, gone))
}

// swap makes g the current generation, with its configuration.
func (h *Host) swap(g *generation, cfg config, regs []Plugin) {
	h.gen.Store(g)
	h.mu.Lock()
	h.resolved, h.regs = g.r, regs
	h.cfg.Store(&cfg)
	h.mu.Unlock()
}

// retire drains the replaced generation g, then stops and cleans up the
// instances it alone held (set, in lifecycle order). If ctx ends first,
// the rest goes on in the background, and Stop waits for it.
func (h *Host) retire(ctx context.Context, g *generation, grace time.Duration, set []*entry) error {
	if g.drain(ctx, grace) == 0 {
		return h.bringDown(context.WithoutCancel(ctx), startedOf(set), set)
	}
	h.drains.Go(func() {
		g.drain(context.Background(), grace)
		if err := h.bringDown(context.Background(), startedOf(set), set); err != nil {
			h.config().logger.Error("stopping a replaced generation", "generation", g.id, "err", err)
		}
	})
	return fmt.Errorf("ply: reload: generation %d still has calls running; they finish in the background: %w", g.id, context.Cause(ctx))
}

// startedOf returns the instances of set that started, once any lazy load
// in progress ended. It is taken after the drain: a call still running on
// a replaced generation may load that generation's lazy plugins.
func startedOf(set []*entry) []*entry {
	var started []*entry
	for _, e := range set {
		if e.lazy != nil {
			e.lazy.settle()
		}
		if e.started.Load() {
			started = append(started, e)
		}
	}
	return started
}

// awaitDrains waits for the drains that outlived their reloads.
func (h *Host) awaitDrains(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		h.drains.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ply: stop: replaced generations still draining: %w", context.Cause(ctx))
	}
}

// sameHandlers checks that a reload keeps the handlers: the same modules
// and handlers, in the same order, of the same kinds.
func sameHandlers(old, r *resolved) error {
	name := func(hr *handlerRef) string {
		return hr.module.Name + "/" + hr.handler.Name + " (" + string(hr.handler.Kind) + ")"
	}
	a := make([]string, len(old.handlers))
	for i, hr := range old.handlers {
		a[i] = name(hr)
	}
	b := make([]string, len(r.handlers))
	for i, hr := range r.handlers {
		b[i] = name(hr)
	}
	if slices.Equal(a, b) {
		return nil
	}
	var added, removed []string
	for _, n := range b {
		if !slices.Contains(a, n) {
			added = append(added, n)
		}
	}
	for _, n := range a {
		if !slices.Contains(b, n) {
			removed = append(removed, n)
		}
	}
	return fmt.Errorf("ply: reload: the handlers changed (added %v, removed %v, or reordered); restart the host to change them: %w",
		added, removed, ErrReloadUnsupported)
}

// carryOver gives every entry of the new plan r an instance: the old
// instance when the plugin is unchanged, a new one otherwise. It returns,
// for each new instance that replaces an old one, the old entry, for the
// state hand-off.
func carryOver(old, r *resolved, cfg config, renew func(Plugin) Plugin) (map[*entry]*entry, error) {
	from := make(map[*entry]*entry)
	var stale []string
	fresh := func(e *entry, why string) {
		if renew != nil {
			if p := renew(e.p); p != nil && p.Info().Name == e.info.Name && p.Info().Version == e.info.Version {
				e.instance = &instance{p: p, hooks: hooksOf(p)}
				e.fileOpts = fileOptions{}
				_ = checkOptions(e, cfg.options) // the same options as the plan checked, for the new object
				return
			}
		}
		stale = append(stale, fmt.Sprintf("%s (%s)", e.info.ID(), why))
	}
	for _, e := range r.lifecycle { // dependencies first
		o := counterpart(old, e)
		if o == nil {
			continue
		}
		depReplaced := ""
		for _, d := range e.deps {
			if isNew(old, d) {
				depReplaced = d.info.Name
			}
		}
		switch {
		case !samePlugin(e.p, o.p):
			from[e] = o
		case !reflect.DeepEqual(e.fileOpts.decoded, o.fileOpts.decoded):
			fresh(e, "its options changed")
			from[e] = o
		case depReplaced != "":
			fresh(e, "it requires "+depReplaced+", which is replaced")
			from[e] = o
		default:
			e.instance = o.instance
			e.fileOpts = o.fileOpts
		}
	}
	if len(stale) > 0 {
		return nil, fmt.Errorf("ply: reload: these plugins must be rebuilt, but were given as the same objects: %s; give new instances in Change.Plugins, or set Change.Renew: %w",
			strings.Join(stale, ", "), ErrReloadUnsupported)
	}
	return from, nil
}

// samePlugin reports whether a and b are the same plugin object: the same
// pointer, or equal comparable values. Values of types that cannot be
// compared (a [Func] given by value) are never the same: a reload replaces
// them.
func samePlugin(a, b Plugin) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	return ta == tb && ta.Comparable() && a == b
}

// counterpart returns the entry of the old plan that e takes the place of:
// the same name and version, or else the one version of its name when
// each plan has just one.
func counterpart(old *resolved, e *entry) *entry {
	cands := old.byName[e.info.Name]
	for _, o := range cands {
		if o.info.Version == e.info.Version {
			return o
		}
	}
	if len(cands) == 1 {
		return cands[0]
	}
	return nil
}

// isNew reports whether e's instance is not one of the old plan's.
func isNew(old *resolved, e *entry) bool {
	for _, o := range old.byName[e.info.Name] {
		if o.instance == e.instance {
			return false
		}
	}
	return true
}

// handOff passes the old instance's state to the new one, when both can.
func (h *Host) handOff(ctx context.Context, old, e *entry) error {
	ex, ok := old.p.(StateExporter)
	if !ok {
		return nil
	}
	im, ok := e.p.(StateImporter)
	if !ok {
		return nil
	}
	var state any
	if err := h.run(ctx, old, OpExport, "", func(ctx context.Context) (err error) {
		state, err = ex.ExportState(ctx)
		return err
	}); err != nil {
		return err
	}
	return h.run(ctx, e, OpImport, "", func(ctx context.Context) error { return im.ImportState(ctx, state, old.info) })
}

// bakeMinCalls is how many calls a chain of the new generation must have
// served before the bake judges its failure rate.
const bakeMinCalls = 20

type bakeConfig struct {
	period time.Duration
	margin float64
}

// WithBake keeps the instances a reload replaced running for period after
// the swap, and swaps their generation back in if, for any recompiled
// handler, the new generation's share of failed calls (errors and panics)
// exceeds the old one's by more than margin (0.05: five percentage points)
// once it served a few calls. [Host.Reload] returns when the bake ends.
// Chains count their calls and failures while baking is on: a little
// cost per call. Default: off.
func WithBake(period time.Duration, margin float64) Option {
	return optionFunc(func(c *config) {
		if period <= 0 || margin < 0 || margin >= 1 {
			c.errs = append(c.errs, fmt.Errorf("ply: WithBake(%v, %v): want a period > 0 and 0 <= margin < 1", period, margin))
			return
		}
		c.bake = bakeConfig{period: period, margin: margin}
	})
}

// WithDrainGrace bounds how long a replaced generation's calls may run
// after a reload before their contexts are cancelled, with cause
// [ErrDrained]; Reload then waits for them to return. It costs every call
// a cancellable context (allocations on the call path). Default: none —
// calls are never cancelled, and Reload waits for them within its context.
func WithDrainGrace(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d <= 0 {
			c.errs = append(c.errs, fmt.Errorf("ply: WithDrainGrace(%v): must be > 0", d))
			return
		}
		c.drainGrace = d
	})
}

// bake watches the new generation for period; it returns why the old one
// must come back, or nil.
func (h *Host) bake(ctx context.Context, b bakeConfig, old, next *generation) error {
	end := time.NewTimer(b.period)
	defer end.Stop()
	tick := time.NewTicker(min(max(b.period/20, time.Millisecond), 100*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-end.C:
			return judge(b, old, next)
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if why := judge(b, old, next); why != nil {
				return why
			}
		}
	}
}

// judge compares the failure rates of every recompiled chain.
func judge(b bakeConfig, old, next *generation) error {
	for i, s := range next.snaps {
		if s == old.snaps[i] || s.stats == nil {
			continue
		}
		calls, failed := s.stats.totals()
		if calls < bakeMinCalls {
			continue
		}
		var oldCalls, oldFailed uint64
		if st := old.snaps[i].stats; st != nil {
			oldCalls, oldFailed = st.totals()
		}
		rate, oldRate := float64(failed)/float64(calls), 0.0
		if oldCalls > 0 {
			oldRate = float64(oldFailed) / float64(oldCalls)
		}
		if rate > oldRate+b.margin {
			return fmt.Errorf("handler %s/%s failed %d of %d calls (%.1f%%) on generation %d against %.1f%% on generation %d (margin %.1f points)",
				s.module.Name, s.handler.Name, failed, calls, 100*rate, next.id, 100*oldRate, old.id, 100*b.margin)
		}
	}
	return nil
}
