package ply

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/Masterminds/semver/v3"

	"github.com/plykit/ply/internal/graph"
)

// entry is one registered plugin as a plan places it. Its instance is the
// plugin object with its lifecycle state: a reload that leaves the plugin
// unchanged gives the new plan's entry the old entry's instance.
type entry struct {
	*instance
	info      Info // Priority is the effective one
	index     int  // registration slot
	version   *semver.Version
	isDefault bool
	parent    *entry
	children  []*entry
	deps      []*entry    // present dependencies, in Requires order
	fileOpts  fileOptions // options from a file, put in place by Start
}

// instance is a plugin object and its lifecycle: what a generation holds
// and a reload carries over.
type instance struct {
	p     Plugin
	hooks hooks
	apis  map[string]any // guarded by Host.mu

	// Lifecycle bookkeeping, written by the goroutine running the lifecycle
	// (start, reload, a lazy load, stop) under Host.life.
	provisioned atomic.Bool
	started     atomic.Bool
	failure     atomic.Pointer[error] // set when an Optional plugin failed
	state       atomic.Int32
	probe       probe     // its health checks
	lazy        *lazyLoad // nil unless the plugin is lazy
}

// failed returns why the optional plugin failed and was left out, or nil.
func (i *instance) failed() error {
	if p := i.failure.Load(); p != nil {
		return *p
	}
	return nil
}

func (e *entry) requires(name string) bool {
	for _, d := range e.info.Requires {
		if d.Name == name {
			return true
		}
	}
	return false
}

// label names e in messages: its name, or its ID when several versions of
// the name are registered.
func (r *resolved) label(e *entry) string {
	if len(r.byName[e.info.Name]) > 1 {
		return e.info.ID()
	}
	return e.info.Name
}

// resolved is the outcome of a successful build.
type resolved struct {
	entries   []*entry            // registration order
	byName    map[string][]*entry // highest version first
	lifecycle []*entry
	chain     []*entry
	lifeOrder *graph.Order
	chainOrd  *graph.Order
	handlers  []*handlerRef // mount order
}

// build turns the registrations into a resolved plan. It runs no hook; it
// finds every problem it can and returns them joined.
func (h *Host) build() (*resolved, error) {
	h.mu.Lock()
	cfg, regs, mounted := *h.config(), slices.Clone(h.regs), slices.Clone(h.modules)
	h.mu.Unlock()
	return buildPlan(cfg, regs, mounted)
}

// buildPlan resolves plugins regs and the modules of cfg and mounted.
func buildPlan(cfg config, regs []Plugin, mounted []*Module) (*resolved, error) {
	modules := append(slices.Clone(cfg.modules), mounted...)

	var errs []error
	entries := flatten(cfg.defaults, regs, &errs)
	r := &resolved{entries: entries, byName: make(map[string][]*entry)}

	byID := make(map[string]*entry, len(entries))
	for _, e := range entries {
		if prev, ok := byID[e.info.ID()]; ok {
			errs = append(errs, fmt.Errorf("register %s (#%d): already registered as #%d: %w", e.info.ID(), e.index+1, prev.index+1, ErrDuplicate))
			continue
		}
		if e.version != nil {
			byID[e.info.ID()] = e
			r.byName[e.info.Name] = append(r.byName[e.info.Name], e)
		}
	}
	for _, es := range r.byName {
		slices.SortStableFunc(es, func(a, b *entry) int { return b.version.Compare(a.version) })
	}

	for name, p := range cfg.priorities {
		if len(r.byName[name]) == 0 {
			errs = append(errs, fmt.Errorf("ply: WithPriority(%q): %w", name, ErrNotRegistered))
			continue
		}
		for _, e := range r.byName[name] {
			e.info.Priority = p
		}
	}
	for _, name := range sortedKeys(cfg.lazy) {
		if len(r.byName[name]) == 0 {
			errs = append(errs, fmt.Errorf("ply: WithLazy(%q): %w", name, ErrNotRegistered))
		}
		for _, e := range r.byName[name] {
			e.info.Lazy = true
		}
	}
	for _, name := range sortedKeys(cfg.options) {
		if !r.has(name) {
			errs = append(errs, fmt.Errorf("ply: WithOptions(%q): %w", name, ErrNotRegistered))
		}
	}
	errs = append(errs, r.checkVersions(cfg.tn)...)
	for _, e := range entries {
		if e.version != nil {
			errs = append(errs, checkOptions(e, cfg.options)...)
		}
	}
	errs = append(errs, r.mount(modules)...)

	life := graph.New(len(entries))
	chain := graph.New(len(entries))
	cons := make(map[string]*semver.Constraints)
	for _, e := range entries {
		life.SetPriority(e.index, e.info.Priority)
		chain.SetPriority(e.index, e.info.Priority)
		if e.version == nil {
			continue
		}
		for _, d := range e.info.Requires {
			dep, err := r.resolveDep(e, d, cons)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if dep != nil {
				e.deps = append(e.deps, dep)
				life.AddEdge(dep.index, e.index)
			}
		}
		prev := e
		for _, c := range e.children { // a composite starts before its children, which start in order
			life.AddEdge(prev.index, c.index)
			prev = c
		}
		for _, name := range e.info.Before {
			errs = r.constrain(errs, chain, e, name, "Before", func(o *entry) (int, int) { return e.index, o.index })
		}
		for _, name := range e.info.After {
			errs = r.constrain(errs, chain, e, name, "After", func(o *entry) (int, int) { return o.index, e.index })
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	var err error
	if r.lifeOrder, err = life.Sort(); err != nil {
		errs = append(errs, r.cycle("dependency", err))
	}
	if r.chainOrd, err = chain.Sort(); err != nil {
		errs = append(errs, r.cycle("order", err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	r.lifecycle = r.pick(r.lifeOrder)
	r.chain = r.pick(r.chainOrd)
	return r, nil
}

// flatten lays out the registration slots: defaults first, each replaced in
// place by a plugin of the same name, then the rest; composites are followed
// by their children.
func flatten(defaults, regs []Plugin, errs *[]error) []*entry {
	slots := make([]Plugin, 0, len(defaults)+len(regs))
	isDefault := make([]bool, 0, cap(slots))
	defaultAt := make(map[string]int, len(defaults))
	for _, p := range defaults {
		if p != nil {
			defaultAt[p.Info().Name] = len(slots)
		}
		slots = append(slots, p)
		isDefault = append(isDefault, true)
	}
	for _, p := range regs {
		if p != nil {
			if i, ok := defaultAt[p.Info().Name]; ok {
				slots[i], isDefault[i] = p, false
				delete(defaultAt, p.Info().Name)
				continue
			}
		}
		slots = append(slots, p)
		isDefault = append(isDefault, false)
	}
	var entries []*entry
	var add func(p Plugin, parent *entry, def bool)
	add = func(p Plugin, parent *entry, def bool) {
		if p == nil {
			*errs = append(*errs, fmt.Errorf("register #%d: nil plugin: %w", len(entries)+1, ErrInvalidInfo))
			return
		}
		e := &entry{instance: &instance{p: p, hooks: hooksOf(p)}, info: p.Info(), index: len(entries), isDefault: def, parent: parent}
		e.info.Requires = slices.Clone(e.info.Requires)
		if e.info.Priority == 0 {
			e.info.Priority = Business
		}
		if err := checkInfo(e); err != nil {
			*errs = append(*errs, err)
		}
		entries = append(entries, e)
		if parent != nil {
			parent.children = append(parent.children, e)
		}
		if c, ok := p.(Composite); ok {
			for _, child := range c.Plugins() {
				add(child, e, def)
			}
		}
	}
	for i, p := range slots {
		add(p, nil, isDefault[i])
	}
	return entries
}

func checkInfo(e *entry) error {
	i := e.info
	switch {
	case i.Name == "":
		return fmt.Errorf("register #%d (%T): Info.Name is required: %w", e.index+1, e.p, ErrEmptyName)
	case strings.ContainsAny(i.Name, "@ \t\n"):
		return fmt.Errorf("register #%d: name %q: no '@' or spaces allowed: %w", e.index+1, i.Name, ErrInvalidInfo)
	}
	v, err := semver.StrictNewVersion(i.Version)
	if err != nil {
		return fmt.Errorf("register %s (#%d): version %q is not semver (want \"1.2.3\"): %w", i.Name, e.index+1, i.Version, ErrInvalidInfo)
	}
	e.version = v
	return nil
}

// resolveDep finds the highest registered version of d that satisfies its
// constraint. It returns nil, nil for an absent optional dependency.
func (r *resolved) resolveDep(e *entry, d Dependency, cache map[string]*semver.Constraints) (*entry, error) {
	candidates := r.byName[d.Name]
	depErr := func(err error) error {
		return &DependencyError{Plugin: e.info.Name, Version: e.info.Version, Dependency: d.Name,
			Constraint: d.Constraint, Found: versionsOf(candidates), Err: err}
	}
	if len(candidates) == 0 {
		if d.Optional {
			return nil, nil
		}
		return nil, depErr(ErrNotRegistered)
	}
	if d.Constraint == "" {
		return candidates[0], nil
	}
	c, ok := cache[d.Constraint]
	if !ok {
		var err error
		if c, err = semver.NewConstraint(d.Constraint); err != nil {
			return nil, fmt.Errorf("plugin %s@%s: requires %s %q: bad constraint (want e.g. \"^1.2\"): %w",
				e.info.Name, e.info.Version, d.Name, d.Constraint, ErrInvalidInfo)
		}
		cache[d.Constraint] = c
	}
	for _, cand := range candidates {
		if c.Check(cand.version) {
			return cand, nil
		}
	}
	return nil, depErr(ErrVersionMismatch)
}

func (r *resolved) constrain(errs []error, g *graph.Graph, e *entry, name, how string, edge func(*entry) (int, int)) []error {
	others := r.byName[name]
	if len(others) == 0 {
		return append(errs, fmt.Errorf("plugin %s: %s(%q): register %q or remove the constraint: %w", e.info.Name, how, name, name, ErrUnknownName))
	}
	for _, o := range others {
		if o != e {
			g.AddEdge(edge(o))
		}
	}
	return errs
}

func (r *resolved) cycle(kind string, err error) error {
	var ce *graph.CycleError
	if !errors.As(err, &ce) {
		return err
	}
	path := make([]string, len(ce.Path))
	for i, n := range ce.Path {
		path[i] = r.label(r.entries[n])
	}
	return &CycleError{Kind: kind, Path: path}
}

func (r *resolved) pick(o *graph.Order) []*entry {
	out := make([]*entry, 0, len(r.entries))
	for _, n := range o.Nodes() {
		out = append(out, r.entries[n])
	}
	return out
}

func versionsOf(es []*entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.info.Version
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmp.Compare)
	return keys
}

// mount checks the modules and their handlers and decodes their per-plugin
// options.
func (r *resolved) mount(modules []*Module) []error {
	var errs []error
	seen := make(map[string]bool)
	for mi, m := range modules {
		switch {
		case m.Name == "":
			errs = append(errs, fmt.Errorf("mount module #%d: Module.Name is required: %w", mi+1, ErrEmptyName))
			continue
		case seen[m.Name]:
			errs = append(errs, fmt.Errorf("mount module %s: mounted twice; module names are unique: %w", m.Name, ErrDuplicate))
			continue
		}
		seen[m.Name] = true
		moduleOpts := make(map[string]any)
		for _, name := range sortedKeys(m.Options) {
			v, es := r.handlerOptions(name, m.Options[name], m.Name, "")
			errs = append(errs, es...)
			moduleOpts[name] = v
		}
		names := make(map[string]bool)
		for i := range m.Handlers {
			hd := &m.Handlers[i]
			switch {
			case hd.Name == "":
				errs = append(errs, fmt.Errorf("mount module %s: handler #%d: Handler.Name is required: %w", m.Name, i+1, ErrEmptyName))
				continue
			case names[hd.Name]:
				errs = append(errs, fmt.Errorf("mount module %s: handler %s: mounted twice; handler names are unique in a module: %w", m.Name, hd.Name, ErrDuplicate))
				continue
			case hd.Func == nil || hd.Kind == "":
				errs = append(errs, fmt.Errorf("mount module %s: handler %s: Func and Kind are required: %w", m.Name, hd.Name, ErrInvalidInfo))
				continue
			}
			names[hd.Name] = true
			hr := &handlerRef{module: m, handler: hd, opts: maps.Clone(moduleOpts)}
			for _, name := range sortedKeys(hd.Options) {
				v, es := r.handlerOptions(name, hd.Options[name], m.Name, hd.Name)
				errs = append(errs, es...)
				hr.opts[name] = v
			}
			r.handlers = append(r.handlers, hr)
		}
	}
	return errs
}
