package ply

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/plykit/ply/internal/options"
)

// Selector reads one string from a call: the tenant a call is for
// ([WithTenants]), the key that keeps a caller on one version
// ([WithWeights]), or the versions a caller asks for
// ([WithVersionHeader]). req is what the chain was called with (an
// *http.Request for [KindHTTP]). Package tenant has selectors for HTTP
// requests: a header, the host name, a path prefix, a token claim.
//
// A Selector runs on every call, before the chain: it must be fast and
// safe for concurrent use, and must not keep req.
type Selector func(ctx context.Context, req any) (string, error)

// Tenant is one tenant's plugin set: what differs from the host's. A
// tenant with no Plugins is served by the host's chains, as they are.
type Tenant struct {
	Name string
	// Plugins are the tenant's overrides, by plugin name.
	Plugins map[string]TenantPlugin
}

// TenantPlugin is how one tenant differs from the host for one plugin.
type TenantPlugin struct {
	// Disabled leaves the plugin's layer and after-hook out of the
	// tenant's chains. Its instance still runs for the other tenants and
	// for plugins that require it.
	Disabled bool
	// Options are merged over the host's options for the plugin: each
	// top-level field they set replaces the host's, the rest stays.
	// Options that differ from the host's give the tenant its own instance
	// of the plugin (made with [WithRenew]), and its own instances of the
	// plugins that require it; otherwise the tenant shares the host's.
	Options *RawOptions
	// Priority, when set, overrides the plugin's priority in the tenant's
	// chains, as [WithPriority] does for the host.
	Priority *int
	// Version pins the version serving the tenant when several versions
	// of the plugin are registered: "2.0.0". It wins over weights and the
	// version header.
	Version string
}

// overrides reports whether t differs from the host at all.
func (t *Tenant) overrides() bool { return len(t.Plugins) > 0 }

// ErrUnknownTenant is matched by the error of a call whose tenant is not
// configured, or could not be read from the call ([*TenantError]). Such a
// call runs no chain: never another tenant's.
var ErrUnknownTenant = errors.New("ply: unknown tenant")

// TenantError is the error of a call refused before its chain ran: its
// tenant is unknown, or its Selector failed (Err). Status is the HTTP
// status to answer with ([WithUnknownTenant]); StatusCode returns it, for
// httpserver.
type TenantError struct {
	Tenant string
	Status int
	Err    error // the Selector's error; nil when the tenant is unknown
}

func (e *TenantError) Error() string {
	if e.Err != nil {
		return "ply: reading the call's tenant: " + e.Err.Error()
	}
	return fmt.Sprintf("ply: unknown tenant %q", e.Tenant)
}

// Unwrap returns ErrUnknownTenant and the Selector's error.
func (e *TenantError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrUnknownTenant, e.Err}
	}
	return []error{ErrUnknownTenant}
}

// StatusCode returns the HTTP status of the refusal: 404 or 403.
func (e *TenantError) StatusCode() int { return e.Status }

// tenantConfig is the tenants and versions part of a host's options.
type tenantConfig struct {
	on       bool
	named    bool // WithTenants was given: calls without a tenant are refused
	resolve  Selector
	tenants  []Tenant
	unknown  int
	renew    func(Plugin) Plugin
	releases map[string]Release // by ID
	weights  map[string]weighting
	header   Selector
	headerOK map[string]bool // plugin names the header may choose
}

type weighting struct {
	sticky  Selector
	weights map[string]int // version -> weight
}

// WithTenants makes the host multi-tenant: resolve reads the tenant of
// every call before its chain runs, and only the tenants given (and those
// added with [Host.SetTenant]) are served; a call for any other gets a
// [*TenantError] ([WithUnknownTenant]). A nil resolve serves every call as
// the tenant named "", which must then be among tenants. Each tenant's
// chains are compiled on its first call of each handler, and shared with
// the host's where the tenant changes nothing. Repeated, the last one
// wins.
func WithTenants(resolve Selector, tenants ...Tenant) Option {
	return optionFunc(func(c *config) {
		seen := make(map[string]bool, len(tenants))
		for _, t := range tenants {
			if seen[t.Name] {
				c.errs = append(c.errs, fmt.Errorf("ply: WithTenants: tenant %q is given twice: %w", t.Name, ErrDuplicate))
			}
			seen[t.Name] = true
		}
		c.tn.on, c.tn.named, c.tn.resolve, c.tn.tenants = true, true, resolve, slices.Clone(tenants)
	})
}

// WithUnknownTenant sets the HTTP status of a call refused because its
// tenant is unknown: 404 (the default; the tenant's existence is not
// revealed) or 403.
func WithUnknownTenant(status int) Option {
	return optionFunc(func(c *config) {
		if status != 403 && status != 404 {
			c.errs = append(c.errs, fmt.Errorf("ply: WithUnknownTenant(%d): want 403 or 404", status))
			return
		}
		c.tn.unknown = status
	})
}

// WithRenew gives the host a way to make a fresh, unprovisioned instance
// of a plugin, configured like old: what a tenant whose options differ
// from the host's gets as its own instance. Without it, such a tenant is a
// build error naming the plugin. See also [Change.Renew].
func WithRenew(renew func(old Plugin) Plugin) Option {
	return optionFunc(func(c *config) { c.tn.renew = renew })
}

// tenantKey is the context key of a call's tenant.
type tenantKey struct{}

// tenantCtx carries a call's tenant: context.WithValue's job in 24 bytes
// instead of 48, the one allocation a multi-tenant call makes.
type tenantCtx struct {
	context.Context
	sl *tenantSlot
}

func (c *tenantCtx) Value(key any) any {
	if _, ok := key.(tenantKey); ok {
		return c.sl
	}
	return c.Context.Value(key)
}

// TenantOf returns the tenant of the call ctx belongs to, and false on a
// host without tenants or outside a call. Storage, events and jobs scope
// their data by it: it comes from the call, never from the plugin.
func TenantOf(ctx context.Context) (string, bool) {
	if sl, ok := ctx.Value(tenantKey{}).(*tenantSlot); ok {
		return sl.name, true
	}
	return "", false
}

// Tenant returns the tenant the call is for, and false on a host without
// tenants.
func (c *Call) Tenant() (string, bool) {
	if c.tenant == nil {
		return "", false
	}
	return c.tenant.name, true
}

// tenancy is a multi-tenant host's dispatch: every call resolves its
// tenant, and its tenant's profile picks the view whose chains serve it.
// A host reload builds a new tenancy with the new generation; a tenant
// change replaces that tenant's profile alone.
type tenancy struct {
	h       *Host
	cfg     tenantConfig
	resolve Selector
	unknown int
	slots   atomic.Pointer[map[string]*tenantSlot]
	base    *profile                 // the host's own plugin set; tenants without overrides use it
	counts  map[string]*atomic.Int64 // calls served by each deprecated version, by ID
}

// tenantSlot is one configured tenant.
type tenantSlot struct {
	name   string
	prof   atomic.Pointer[profile] // nil: the host's base profile
	gone   atomic.Bool             // removed: calls that still find it are refused
	warned sync.Map                // deprecated IDs already logged for this tenant
}

// profile is a plugin set: the host's, or a tenant's. Its views are the
// plans a call may run on, one per combination of the versions chosen per
// call (weights, header); a single view when none is.
type profile struct {
	t      *Tenant // nil for the host's
	r      *resolved
	own    []*entry // instances this profile alone holds, in lifecycle order
	dims   []dimension
	views  []*view // by variant index; a nil view serves on the host's generation
	header bool    // some dimension may be chosen by the version header
}

// dimension is one plugin with several versions, chosen per call.
type dimension struct {
	name     string
	versions []*entry // highest first
	def      int      // the default: the highest active version
	cum      []int    // cumulative weights, by version; nil without weights
	sticky   Selector
	header   bool // the version header may choose it
}

// view is one plan a profile serves calls on: its chains, compiled on first
// use, and its own generation to count the calls that run on it.
type view struct {
	p          *profile
	g          *generation
	skip       map[*entry]bool // disabled plugins and versions not chosen
	snaps      []atomic.Pointer[compiled]
	mu         sync.Mutex // compiles
	choices    []VersionChoice
	deprecated []*entry
	since      Release // the earliest deprecation among them, for the header
}

// VersionChoice says which version of a plugin serves a tenant, and why.
type VersionChoice struct {
	Plugin, Version string
	// Why is "pin" (the tenant's), "weight" (with the weights in Weights),
	// "header" (the version header may choose), or "default" (the highest
	// active version).
	Why     string
	Weights map[string]int `json:",omitempty"`
	Release ReleaseState
}

func (h *Host) newTenancy(ctx context.Context, r *resolved, cfg config) (*tenancy, error) {
	tn := &tenancy{h: h, cfg: cfg.tn, resolve: cfg.tn.resolve, unknown: cmp.Or(cfg.tn.unknown, 404),
		counts: make(map[string]*atomic.Int64)}
	for id, rel := range cfg.tn.releases {
		if rel.State == Deprecated {
			tn.counts[id] = new(atomic.Int64)
		}
	}
	var errs []error
	slots := make(map[string]*tenantSlot, len(cfg.tn.tenants))
	var built []*profile
	base, err := tn.profile(ctx, r, cfg, nil, nil)
	if err != nil {
		return nil, err
	}
	tn.base = base
	for i := range cfg.tn.tenants {
		t := &cfg.tn.tenants[i]
		sl := &tenantSlot{name: t.Name}
		slots[t.Name] = sl
		if !t.overrides() {
			continue
		}
		p, err := tn.profile(ctx, r, cfg, t, nil)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		built = append(built, p)
		sl.prof.Store(p)
	}
	if !cfg.tn.named { // versions side by side without tenants: every call is the host's
		slots[""] = &tenantSlot{}
	}
	tn.slots.Store(&slots)
	if len(errs) > 0 {
		for _, p := range built {
			errs = append(errs, p.bringDown(context.WithoutCancel(ctx), h))
		}
		return nil, errors.Join(errs...)
	}
	return tn, nil
}

// profile builds the plugin set of tenant t (the host's when t is nil) on
// the host's plan r, and provisions and validates the instances it alone
// holds: start them with [profile.start].
//
// prev is the tenant's plugin set being replaced, if any: each of its own
// instances hands its state to the new instance of the same plugin
// ([StateExporter], [StateImporter]).
func (tn *tenancy) profile(ctx context.Context, r *resolved, cfg config, t *Tenant, prev *profile) (*profile, error) {
	p := &profile{t: t, r: r}
	where := "host"
	if t != nil {
		where = fmt.Sprintf("tenant %q", t.Name)
		if err := p.plan(ctx, tn.h, r, cfg, t, prev); err != nil {
			return nil, fmt.Errorf("ply: %s: %w", where, err)
		}
	}
	if err := p.choose(tn, cfg.tn); err != nil {
		_ = p.bringDown(context.WithoutCancel(ctx), tn.h)
		return nil, fmt.Errorf("ply: %s: %w", where, err)
	}
	return p, nil
}

// plan gives the tenant its own plan when it changes options or
// priorities: the host's registrations resolved again, sharing every
// instance whose options and dependencies the tenant leaves alone.
func (p *profile) plan(ctx context.Context, h *Host, r *resolved, cfg config, t *Tenant, prev *profile) error {
	var errs []error
	merged := make(map[string]any) // ID -> the tenant's options, where they differ from the host's
	prio := false
	for _, name := range sortedKeys(t.Plugins) {
		tp := t.Plugins[name]
		es := r.byName[name]
		if len(es) == 0 {
			errs = append(errs, fmt.Errorf("plugin %q: no plugin of that name is registered; remove it from the tenant or register it: %w", name, ErrNotRegistered))
			continue
		}
		if tp.Version != "" && !slices.ContainsFunc(es, func(e *entry) bool { return e.info.Version == tp.Version }) {
			errs = append(errs, fmt.Errorf("plugin %q: version %q is pinned, but only %v are registered: %w", name, tp.Version, versionsOf(es), ErrVersionMismatch))
		}
		prio = prio || tp.Priority != nil
		if tp.Options == nil {
			continue
		}
		for _, e := range es {
			c, ok := e.p.(Configurable)
			if !ok || c.Options() == nil {
				errs = append(errs, fmt.Errorf("plugin %q: takes no options; remove them from the tenant: %w", name, ErrInvalidInfo))
				break
			}
			raw := *tp.Options
			v, problems := options.Overlay(options.Source{File: raw.File, Data: raw.Data, Path: raw.Path, Env: raw.Env}, c.Options())
			for _, pr := range problems {
				pr.Plugin, pr.File = name, raw.File
				errs = append(errs, pr)
			}
			if len(problems) == 0 && !reflect.DeepEqual(v, c.Options()) {
				merged[e.info.ID()] = v
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if len(merged) == 0 && !prio {
		return nil // the host's plan, with some plugins or versions left out
	}
	cfg.priorities = maps.Clone(cfg.priorities)
	for name, tp := range t.Plugins {
		if tp.Priority != nil {
			cfg.priorities[name] = *tp.Priority
		}
	}
	h.mu.Lock()
	regs, mounted := slices.Clone(h.regs), slices.Clone(h.modules)
	h.mu.Unlock()
	tr, err := buildPlan(cfg, regs, mounted)
	if err != nil {
		return err
	}
	own := make(map[*entry]bool)
	var stale []string
	for _, e := range tr.lifecycle { // dependencies first
		o := counterpart(r, e)
		if o == nil {
			return fmt.Errorf("plugin %s: not in the host's plan", e.info.ID())
		}
		opts, changed := merged[e.info.ID()]
		for _, d := range e.deps {
			changed = changed || own[d]
		}
		if !changed {
			e.instance, e.fileOpts = o.instance, o.fileOpts
			continue
		}
		var np Plugin
		if cfg.tn.renew != nil {
			np = cfg.tn.renew(o.p)
		}
		if np == nil || np.Info().Name != e.info.Name || np.Info().Version != e.info.Version {
			stale = append(stale, e.info.ID())
			continue
		}
		if _, ok := np.(Binder); ok {
			return fmt.Errorf("plugin %s: binds routes; it cannot have options of its own per tenant: %w", e.info.ID(), ErrInvalidInfo)
		}
		e.instance = &instance{p: np, hooks: hooksOf(np)}
		if opts == nil { // rebuilt for a dependency: the host's options
			if c, ok := o.p.(Configurable); ok {
				opts = c.Options()
			}
		}
		e.fileOpts = fileOptions{}
		if c, ok := np.(Configurable); ok && c.Options() != nil && opts != nil {
			e.fileOpts = fileOptions{dst: c.Options(), decoded: opts}
		}
		own[e] = true
		p.own = append(p.own, e)
	}
	if len(stale) > 0 {
		return fmt.Errorf("these plugins need an instance of their own (their options, or a dependency's, differ from the host's), but the host cannot make one: %s; give the host ply.WithRenew: %w",
			strings.Join(stale, ", "), ErrReloadUnsupported)
	}
	p.r = tr
	if len(p.own) == 0 {
		return nil
	}
	b := &bringUp{h: h, r: tr, set: p.own, from: make(map[*entry]*entry)}
	if prev != nil {
		for _, e := range p.own {
			for _, o := range prev.own {
				if o.info.ID() == e.info.ID() {
					b.from[e] = o
				}
			}
		}
	}
	if err := b.provision(ctx); err != nil {
		return errors.Join(err, b.rollback(context.WithoutCancel(ctx)))
	}
	return nil
}

// choose lays out the profile's views: which plugins each leaves out and
// which version of each plugin with several it serves.
func (p *profile) choose(tn *tenancy, cfg tenantConfig) error {
	skip, fixed, dims, err := choices(p.r, p.t, cfg)
	if err != nil {
		return err
	}
	p.dims = dims
	for _, d := range dims {
		p.header = p.header || d.header
	}
	n := 1
	for _, d := range p.dims {
		n *= len(d.versions)
	}
	p.views = make([]*view, n)
	if n == 1 && len(skip) == 0 && p.t == nil {
		return nil // the host's generation serves, as it is
	}
	for i := range n {
		v := &view{p: p, skip: maps.Clone(skip), choices: slices.Clone(fixed)}
		at := i
		for _, d := range p.dims {
			k := at % len(d.versions)
			at /= len(d.versions)
			why := "header"
			var weights map[string]int
			if d.cum != nil {
				why, weights = "weight", cfg.weights[d.name].weights
			}
			v.choices = append(v.choices, VersionChoice{Plugin: d.name, Version: d.versions[k].info.Version, Why: why, Weights: weights})
			for j, e := range d.versions {
				if j != k {
					v.skip[e] = true
				}
			}
		}
		for ci := range v.choices {
			c := &v.choices[ci]
			c.Release = cfg.releases[c.Plugin+"@"+c.Version].State
		}
		for _, e := range p.r.entries {
			if rel, ok := cfg.releases[e.info.ID()]; ok && rel.State == Deprecated && !v.skip[e] {
				v.deprecated = append(v.deprecated, e)
				if v.since.State == Active || rel.Since.Before(v.since.Since) {
					v.since = rel
				}
			}
		}
		tn.h.genIDs++
		v.g = newGeneration(tn.h.genIDs, p.r, nil, tn.h.config().drainGrace)
		v.snaps = make([]atomic.Pointer[compiled], len(p.r.handlers))
		p.views[i] = v
	}
	return nil
}

// choices returns, for tenant t (nil: the host) on plan r, the entries
// its chains leave out (disabled plugins, versions not chosen), the
// versions chosen once for all its calls, and the plugins whose version is
// chosen per call.
func choices(r *resolved, t *Tenant, cfg tenantConfig) (skip map[*entry]bool, fixed []VersionChoice, dims []dimension, err error) {
	skip = make(map[*entry]bool)
	var errs []error
	if t != nil {
		for name, tp := range t.Plugins {
			if tp.Disabled {
				for _, e := range r.byName[name] {
					skip[e] = true
				}
			}
		}
	}
	for _, name := range sortedKeys(r.byName) {
		es := r.byName[name]
		if len(es) < 2 {
			continue
		}
		pin := ""
		if t != nil {
			pin = t.Plugins[name].Version
		}
		def := defaultVersion(es, cfg.releases)
		w, weighted := cfg.weights[name]
		switch {
		case pin != "":
			for _, e := range es {
				if e.info.Version != pin {
					skip[e] = true
				}
			}
			fixed = append(fixed, VersionChoice{Plugin: name, Version: pin, Why: "pin"})
		case weighted || cfg.headerOK[name]:
			d := dimension{name: name, versions: es, def: def, sticky: nil, header: cfg.headerOK[name]}
			if weighted {
				d.sticky = w.sticky
				sum := 0
				for _, e := range es {
					sum += w.weights[e.info.Version]
					d.cum = append(d.cum, sum)
				}
				for v := range w.weights {
					if !slices.ContainsFunc(es, func(e *entry) bool { return e.info.Version == v }) {
						errs = append(errs, fmt.Errorf("ply: WithWeights(%q): version %q is not registered (have %v): %w", name, v, versionsOf(es), ErrVersionMismatch))
					}
				}
				if sum == 0 {
					errs = append(errs, fmt.Errorf("ply: WithWeights(%q): the weights add up to 0; give at least one version a weight > 0", name))
				}
			}
			dims = append(dims, d)
		default:
			for i, e := range es {
				if i != def {
					skip[e] = true
				}
			}
			fixed = append(fixed, VersionChoice{Plugin: name, Version: es[def].info.Version, Why: "default"})
		}
	}
	return skip, fixed, dims, errors.Join(errs...)
}

// defaultVersion returns the index of the highest active version in es
// (highest first), else of the highest that is not beta, else 0.
func defaultVersion(es []*entry, releases map[string]Release) int {
	for i, e := range es {
		if releases[e.info.ID()].State == Active {
			return i
		}
	}
	for i, e := range es {
		if releases[e.info.ID()].State != Beta {
			return i
		}
	}
	return 0
}

// pick returns the view that serves a call of tenant sl: the profile's
// only one, or the one of the versions this call gets.
func (p *profile) pick(ctx context.Context, req any, sl *tenantSlot, header Selector) *view {
	if len(p.dims) == 0 {
		return p.views[0]
	}
	var asked string
	if p.header && header != nil {
		asked, _ = header(ctx, req) // an unreadable header asks for nothing
	}
	idx, mult := 0, 1
	for i := range p.dims {
		d := &p.dims[i]
		k := -1
		if d.header && asked != "" {
			k = d.asked(asked)
		}
		if k < 0 && d.cum != nil {
			key := sl.name
			if d.sticky != nil {
				if s, err := d.sticky(ctx, req); err == nil && s != "" {
					key = s
				}
			}
			k = d.bucket(key)
		}
		if k < 0 {
			k = d.def
		}
		idx += k * mult
		mult *= len(d.versions)
	}
	return p.views[idx]
}

// asked returns the index of the version of d that a version header value
// ("auth@2.0.0, cache@1.1.0") names, or -1.
func (d *dimension) asked(value string) int {
	for part := range strings.SplitSeq(value, ",") {
		name, version, ok := strings.Cut(strings.TrimSpace(part), "@")
		if !ok || name != d.name {
			continue
		}
		for i, e := range d.versions {
			if e.info.Version == version {
				return i
			}
		}
	}
	return -1
}

// bucket maps key to a version by its weights: a hash of the plugin's name
// and key, so that one key stays on one version while the weights stay.
func (d *dimension) bucket(key string) int {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(d.name); i++ {
		h = (h ^ uint64(d.name[i])) * prime
	}
	h = (h ^ 0xff) * prime // a separator: name "ab" key "c" is not name "a" key "bc"
	for i := 0; i < len(key); i++ {
		h = (h ^ uint64(key[i])) * prime
	}
	h ^= h >> 33 // fold the high bits in: FNV's low bits mix poorly
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	total := d.cum[len(d.cum)-1]
	at := int(h % uint64(total)) //nolint:gosec // total > 0, checked by choose
	return sort.SearchInts(d.cum, at+1)
}

// start starts the profile's own instances (Bind is not theirs: they bind
// no routes).
func (p *profile) start(ctx context.Context, h *Host) error {
	if len(p.own) == 0 {
		return nil
	}
	b := &bringUp{h: h, r: p.r, set: p.own}
	if err := b.start(ctx, nil); err != nil {
		return errors.Join(err, b.rollback(context.WithoutCancel(ctx)))
	}
	return nil
}

// bringDown stops and cleans up the profile's own instances.
func (p *profile) bringDown(ctx context.Context, h *Host) error {
	if p == nil || len(p.own) == 0 {
		return nil
	}
	return h.bringDown(ctx, startedOf(p.own), p.own)
}

// retire drains the profile's views, then brings its own instances down.
// If ctx ends first, the rest goes on in the background, and Stop waits
// for it, as for a replaced generation.
func (p *profile) retire(ctx context.Context, h *Host) error {
	if p == nil {
		return nil
	}
	grace := h.config().drainGrace
	for i, v := range p.views {
		if v == nil || v.g.drain(ctx, grace) == 0 {
			continue
		}
		h.drains.Go(func() {
			for _, v := range p.views[i:] {
				if v != nil {
					v.g.drain(context.Background(), grace)
				}
			}
			if err := p.bringDown(context.Background(), h); err != nil {
				h.config().logger.Error("stopping a tenant's replaced plugin set", "err", err)
			}
		})
		return fmt.Errorf("ply: tenant: calls still running on a replaced plugin set; they finish in the background: %w", context.Cause(ctx))
	}
	return p.bringDown(context.WithoutCancel(ctx), h)
}

// start starts every profile's own instances.
func (tn *tenancy) start(ctx context.Context) error {
	var errs []error
	for _, sl := range *tn.slots.Load() {
		if p := sl.prof.Load(); p != nil {
			errs = append(errs, p.start(ctx, tn.h))
		}
	}
	return errors.Join(errs...)
}

// stop brings every profile's own instances down.
func (tn *tenancy) stop(ctx context.Context) error {
	var errs []error
	for _, sl := range *tn.slots.Load() {
		errs = append(errs, sl.prof.Load().bringDown(ctx, tn.h))
	}
	return errors.Join(errs...)
}

// retire drains and stops what tn alone holds, once another tenancy took
// its place.
func (tn *tenancy) retire(ctx context.Context) error {
	errs := []error{tn.base.retire(ctx, tn.h)}
	for _, sl := range *tn.slots.Load() {
		errs = append(errs, sl.prof.Load().retire(ctx, tn.h))
	}
	return errors.Join(errs...)
}

// serveTenant runs a call on a multi-tenant host: it resolves the call's
// tenant, picks the view of the tenant's plugin set for this call and runs
// the chain there, compiling it on the view's first call of the handler.
func (h *Host) serveTenant(ctx context.Context, g *generation, ch *Chain, req, res, sink any) (any, error) {
	tn := g.tn
	name := ""
	if tn.resolve != nil {
		var err error
		if name, err = tn.resolve(ctx, req); err != nil {
			return nil, &TenantError{Status: tn.unknown, Err: err}
		}
	}
	sl := (*tn.slots.Load())[name] // a tenant removed since the load is gone once its views are retired
	if sl == nil {
		return nil, &TenantError{Tenant: name, Status: tn.unknown}
	}
	if tn.cfg.named {
		ctx = &tenantCtx{Context: ctx, sl: sl}
	}
	for {
		p := sl.prof.Load()
		if p == nil {
			p = tn.base
		}
		v := p.pick(ctx, req, sl, tn.cfg.header)
		var s *compiled
		run := g
		if v == nil {
			s = g.snaps[ch.idx]
			if s.lazies != nil {
				for _, e := range s.lazies {
					if err := e.lazy.load(ctx); err != nil {
						return nil, err
					}
				}
				if err := h.upgrade(ctx, g); err != nil {
					return nil, err
				}
				return h.serve(ctx, ch, req, res, sink)
			}
		} else {
			run = v.g
			var err error
			if s, err = v.snap(ctx, h, ch); err != nil {
				return nil, err
			}
		}
		c := s.pool.Get().(*Call)
		st := &run.live[c.stripe&run.mask]
		st.started.Add(1)
		if run.retired.Load() || (run != g && g.retired.Load()) {
			run.ended(st)
			s.pool.Put(c)
			switch {
			case g.retired.Load(): // the host reloaded: resolve again on its new tenancy
				return h.serve(ctx, ch, req, res, sink)
			case sl.gone.Load():
				return nil, &TenantError{Tenant: name, Status: tn.unknown}
			}
			continue // the tenant changed: take its new plugin set
		}
		c.begin(req, res, sink, run, st)
		c.view = v
		if tn.cfg.named {
			c.tenant = sl
		}
		if v != nil && v.deprecated != nil {
			tn.deprecatedCall(sl, v)
		}
		if run.cancel != nil {
			return s.runCancellable(ctx, run, c)
		}
		return s.end(c, s.run(ctx, c))
	}
}

// runCancellable runs call c of s on generation g, whose drain cancels the
// calls that outlive its grace period ([WithDrainGrace]). It is a function
// of its own so that serveTenant has no defer: a defer in its loop would
// cost every call the runtime's deferreturn.
func (s *compiled) runCancellable(ctx context.Context, g *generation, c *Call) (any, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(g.ctx, func() { cancel(context.Cause(g.ctx)) })
	defer stop()
	return s.end(c, s.run(ctx, c))
}

// snap returns the view's compiled chain ch, compiling it on first use.
// Layers of instances the host's generation has are reused from it; the
// view's own instances wrap the handler here.
func (v *view) snap(ctx context.Context, h *Host, ch *Chain) (*compiled, error) {
	if s := v.snaps[ch.idx].Load(); s != nil {
		return s, nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if s := v.snaps[ch.idx].Load(); s != nil {
		return s, nil
	}
	r := v.p.r
	hr := r.handlers[ch.idx]
	base := h.gen.Load().snaps[ch.idx]
	var contrib []contribution
	hint := 0
	for _, e := range r.chain {
		if v.skip[e] || e.hooks.wrap == nil || e.failed() != nil || !e.wraps(hr.handler.Kind) {
			continue
		}
		if e.lazy != nil {
			if err := e.lazy.load(ctx); err != nil {
				return nil, err
			}
		}
		opts := hr.opts[e.info.Name]
		if w, ok := base.reuse(e, hr.handler, opts, &hint); ok {
			contrib = append(contrib, contribution{e: e, opts: opts, w: w})
			continue
		}
		var w Wrap
		t := Target{Handler: hr.handler, Module: hr.module, Options: opts}
		err := h.run(ctx, e, OpWrap, hr.module.Name+"/"+hr.handler.Name, func(ctx context.Context) error {
			var err error
			w, err = e.hooks.wrap(ctx, t)
			return err
		})
		if err != nil {
			return nil, err
		}
		contrib = append(contrib, contribution{e: e, opts: opts, w: w})
	}
	observers, _ := observersOf(h.gen.Load().r)
	s := assemble(ch, hr, contrib, observers, false)
	v.snaps[ch.idx].Store(s)
	return s, nil
}

// deprecatedCall counts a call served by deprecated versions, and logs
// their use once per tenant.
func (tn *tenancy) deprecatedCall(sl *tenantSlot, v *view) {
	for _, e := range v.deprecated {
		id := e.info.ID()
		if n := tn.counts[id]; n != nil {
			n.Add(1)
		}
		if _, seen := sl.warned.LoadOrStore(id, true); !seen {
			tn.h.config().logger.Warn("a deprecated plugin version serves this tenant",
				"plugin", e.info.Name, "version", e.info.Version, "tenant", sl.name)
		}
	}
}

// SetTenant adds tenant t to a started multi-tenant host, or replaces the
// tenant of that name: a reload of that tenant alone. Its new plugin set is
// built (its own instances provisioned, validated and started) beside the
// old one, which serves until the swap; the tenant's calls in flight
// finish on the old set, which is then drained, stopped and cleaned up.
// Other tenants are not touched. A failure leaves the tenant as it was and
// returns the error. It returns an error matching [ErrNotStarted] unless
// the host has started, and one matching [ErrUnknownTenant] on a host
// without [WithTenants].
func (h *Host) SetTenant(ctx context.Context, t Tenant) error {
	return h.changeTenant(ctx, t.Name, &t)
}

// RemoveTenant removes the named tenant from a started multi-tenant host:
// its later calls are refused as unknown ([*TenantError]); its calls in
// flight finish, then the instances it alone held are stopped and cleaned
// up. Removing an unknown tenant returns an error matching
// [ErrUnknownTenant].
func (h *Host) RemoveTenant(ctx context.Context, name string) error {
	return h.changeTenant(ctx, name, nil)
}

func (h *Host) changeTenant(ctx context.Context, name string, t *Tenant) error {
	h.life.Lock()
	defer h.life.Unlock()
	h.mu.Lock()
	state, cfg := h.state, *h.config()
	h.mu.Unlock()
	if state != stateStarted {
		return fmt.Errorf("ply: tenant %q: %w", name, ErrNotStarted)
	}
	g := h.gen.Load()
	if g.tn == nil || !g.tn.cfg.named {
		return fmt.Errorf("ply: tenant %q: the host has no tenants (ply.WithTenants): %w", name, ErrUnknownTenant)
	}
	tn := g.tn
	slots := *tn.slots.Load()
	old := slots[name]
	if t == nil && old == nil {
		return &TenantError{Tenant: name, Status: tn.unknown}
	}
	var p *profile
	if t != nil && t.overrides() {
		var err error
		var prev *profile
		if old != nil {
			prev = old.prof.Load()
		}
		if p, err = tn.profile(ctx, g.r, cfg, t, prev); err != nil {
			return err
		}
		if err := p.start(ctx, h); err != nil {
			return err
		}
	}
	next := maps.Clone(slots)
	var was *profile
	switch {
	case t == nil:
		delete(next, name)
		old.gone.Store(true)
		was = old.prof.Load()
	case old == nil:
		sl := &tenantSlot{name: name}
		sl.prof.Store(p)
		next[name] = sl
	default:
		was = old.prof.Swap(p)
	}
	tn.slots.Store(&next)
	tenants := slices.DeleteFunc(slices.Clone(cfg.tn.tenants), func(x Tenant) bool { return x.Name == name })
	if t != nil {
		tenants = append(tenants, *t)
	}
	cfg.tn.tenants = tenants
	h.mu.Lock()
	h.cfg.Store(&cfg)
	h.mu.Unlock()
	h.config().logger.Info("tenant reloaded", "tenant", name, "removed", t == nil)
	return was.retire(ctx, h)
}

// Tenants returns the names of the tenants a started multi-tenant host
// serves, sorted; nil for a host without tenants.
func (h *Host) Tenants() []string {
	g := h.gen.Load()
	if g == nil || g.tn == nil || !g.tn.cfg.named {
		return nil
	}
	return sortedKeys(*g.tn.slots.Load())
}

// ExplainTenant returns the chain that serves tenant's calls of the
// handler, outermost first, and for every plugin with several versions
// which one serves the tenant and why ([VersionChoice]). Where versions
// are chosen per call (weights, header), it explains the default choice
// and lists the weights. It compiles the tenant's chain if no call did
// yet. It returns an error matching [ErrUnknownTenant] for an unknown
// tenant or a host without tenants, and [ErrNoChain] for an unknown
// handler.
func (h *Host) ExplainTenant(ctx context.Context, tenant, module, handler string) (Explanation, error) {
	ch, err := h.Chain(module, handler)
	if err != nil {
		return Explanation{}, err
	}
	g := h.gen.Load()
	if g.tn == nil {
		return Explanation{}, fmt.Errorf("ply: explain tenant %q: the host has no tenants: %w", tenant, ErrUnknownTenant)
	}
	sl := (*g.tn.slots.Load())[tenant]
	if sl == nil {
		return Explanation{}, &TenantError{Tenant: tenant, Status: g.tn.unknown}
	}
	p := sl.prof.Load()
	if p == nil {
		p = g.tn.base
	}
	idx, mult := 0, 1
	for _, d := range p.dims {
		k := d.def
		if d.cum != nil { // the heaviest version
			best := 0
			for i := range d.cum {
				w := d.cum[i]
				if i > 0 {
					w -= d.cum[i-1]
				}
				if w > best {
					best, k = w, i
				}
			}
		}
		idx += k * mult
		mult *= len(d.versions)
	}
	v := p.views[idx]
	var x Explanation
	if v == nil {
		x = ch.Explain()
	} else {
		s, err := v.snap(ctx, h, ch)
		if err != nil {
			return Explanation{}, err
		}
		x = explainSnap(ch, s, p.r)
		x.Versions = v.choices
	}
	x.Tenant = tenant
	return x, nil
}

// sameTenants reports whether two tenant configurations are alike, but for
// their funcs, which cannot be compared: a reload that keeps them keeps
// the tenancy.
func sameTenants(a, b tenantConfig) bool {
	strip := func(c tenantConfig) tenantConfig {
		c.resolve, c.renew, c.header = nil, nil, nil
		c.weights = maps.Clone(c.weights)
		for k, w := range c.weights {
			w.sticky = nil
			c.weights[k] = w
		}
		c.tenants = slices.Clone(c.tenants)
		for i := range c.tenants {
			t := &c.tenants[i]
			t.Plugins = maps.Clone(t.Plugins)
			for k, tp := range t.Plugins {
				if tp.Options != nil {
					o := *tp.Options
					o.Env = nil
					tp.Options = &o
				}
				t.Plugins[k] = tp
			}
		}
		return c
	}
	return reflect.DeepEqual(strip(a), strip(b))
}

// compileAll compiles every view's chains, for a preview to explain.
func (tn *tenancy) compileAll(ctx context.Context, chains []*Chain) error {
	profiles := []*profile{tn.base}
	for _, sl := range *tn.slots.Load() {
		if p := sl.prof.Load(); p != nil {
			profiles = append(profiles, p)
		}
	}
	var errs []error
	for _, p := range profiles {
		for _, v := range p.views {
			if v == nil {
				continue
			}
			for _, ch := range chains {
				if _, err := v.snap(ctx, tn.h, ch); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// Tenant explains, from the plan alone (no hook runs), the chain order
// that serves tenant: the plugins that may wrap its handlers, outermost
// first — the host's order with the tenant's priorities, without the
// plugins it disables and the versions that do not serve it — and which
// version of each plugin with several serves it, and why. Which of them
// wrap a given handler is their Wrap's choice: [Host.ExplainTenant] shows
// that. Where versions are chosen per call, the order lists every
// candidate. It returns an error matching [ErrUnknownTenant] for a tenant
// the host's options do not list.
func (p *Plan) Tenant(name string) (Explanation, error) {
	if p.h == nil {
		return Explanation{}, fmt.Errorf("ply: plan: tenant %q: this plan has no host: %w", name, ErrUnknownTenant)
	}
	p.h.mu.Lock()
	cfg, regs, mounted := *p.h.config(), slices.Clone(p.h.regs), slices.Clone(p.h.modules)
	p.h.mu.Unlock()
	i := slices.IndexFunc(cfg.tn.tenants, func(t Tenant) bool { return t.Name == name })
	if i < 0 || !cfg.tn.named {
		return Explanation{}, &TenantError{Tenant: name, Status: cmp.Or(cfg.tn.unknown, 404)}
	}
	t := &cfg.tn.tenants[i]
	r := p.r
	prio := false
	for _, tp := range t.Plugins {
		prio = prio || tp.Priority != nil
	}
	if prio {
		cfg.priorities = maps.Clone(cfg.priorities)
		for n, tp := range t.Plugins {
			if tp.Priority != nil {
				cfg.priorities[n] = *tp.Priority
			}
		}
		var err error
		if r, err = buildPlan(cfg, regs, mounted); err != nil {
			return Explanation{}, fmt.Errorf("ply: tenant %q: %w", name, err)
		}
	}
	skip, fixed, dims, err := choices(r, t, cfg.tn)
	if err != nil {
		return Explanation{}, fmt.Errorf("ply: tenant %q: %w", name, err)
	}
	var es []*entry
	for _, e := range r.chain {
		if !skip[e] {
			es = append(es, e)
		}
	}
	x := Explanation{Kind: ChainOrder, Tenant: name, Versions: fixed}
	for _, d := range dims {
		why := "header"
		var weights map[string]int
		if d.cum != nil {
			why, weights = "weight", cfg.tn.weights[d.name].weights
		}
		for _, e := range d.versions {
			x.Versions = append(x.Versions, VersionChoice{Plugin: d.name, Version: e.info.Version, Why: why, Weights: weights})
		}
	}
	for ci := range x.Versions {
		c := &x.Versions[ci]
		c.Release = cfg.tn.releases[c.Plugin+"@"+c.Version].State
	}
	pl := &Plan{r: r}
	for i, e := range es {
		s := Placement{Plugin: e.info}
		if i > 0 {
			s.Reason = pl.reason(ChainOrder, r.chainOrd.Why(es[i-1].index, e.index))
		}
		x.Steps = append(x.Steps, s)
	}
	return x, nil
}

// own appends the tenants' own instances to es, by tenant name, and their
// tenants to names.
func (tn *tenancy) own(es []*entry, names []string) ([]*entry, []string) {
	slots := *tn.slots.Load()
	for _, name := range sortedKeys(slots) {
		if p := slots[name].prof.Load(); p != nil {
			for _, e := range p.own {
				es, names = append(es, e), append(names, name)
			}
		}
	}
	return es, names
}
