package ply

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"reflect"
	"runtime/debug"
	"slices"
	"sync"
	"time"
	"unsafe"
)

// Chain is one handler's compiled chain. What it calls is the host's
// current generation of it: [Host.Reload] swaps every chain at once, and a
// call in flight finishes on the generation it started on. A Chain is the
// same object across reloads, and safe for concurrent use.
type Chain struct {
	h      *Host
	idx    int // in the generations' snaps
	module string
	name   string
}

// Handler returns the chain's handler, as the current generation has it.
func (ch *Chain) Handler() *Handler { return ch.current().handler }

// Module returns the module of the chain's handler, as the current
// generation has it.
func (ch *Chain) Module() *Module { return ch.current().module }

// Options returns the options the chain's handler has for the named
// plugin — its handler options, else its module's, decoded into the
// plugin's [HandlerConfigurable] type — or nil when it has none. A
// [Binder] reads them here for the chains it binds.
func (ch *Chain) Options(plugin string) any { return ch.current().opts[plugin] }

func (ch *Chain) current() *compiled { return ch.h.gen.Load().snaps[ch.idx] }

// Serve calls the handler through its chain with request req and initial
// response res (nil, or for instance the http.ResponseWriter), and returns
// the final response and error, after the after-hooks ran.
func (ch *Chain) Serve(ctx context.Context, req, res any) (any, error) {
	return ch.h.serve(ctx, ch, req, res, nil)
}

// Invoke calls the chain with req and returns its response as a Res. A
// response of another type is an error.
func Invoke[Res any](ctx context.Context, ch *Chain, req any) (Res, error) {
	out, err := ch.Serve(ctx, req, nil)
	res, ok := out.(Res)
	if !ok && out != nil && err == nil {
		err = fmt.Errorf("ply: handler %s/%s responded with %T, want %T", ch.module, ch.name, out, res)
	}
	return res, err
}

// Stream calls a stream handler through its chain as the caller ranges over
// the result: the handler emits items with [Emit], each delivered to the
// loop body in the caller's goroutine (backpressure is built in), and the
// layers' after-code and the after-hooks run when the stream ends —
// exhausted, broken out of, or failed. A failure is the last element. A
// panic in the loop body ends the stream too (the after-hooks see it as
// the handler's) and then goes on in the caller, as with any range loop.
//
// Stream has no element left to give the caller the final response, nor
// the final error of a stream it broke out of: the after-hooks' outcome.
// A caller that needs them calls [ServeStream].
func Stream[T any](ctx context.Context, ch *Chain, req any) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		open := true
		_, err := ServeStream(ctx, ch, req, func(v T) bool {
			open = yield(v, nil)
			return open
		})
		if err != nil && open && !errors.Is(err, ErrStreamClosed) {
			var zero T
			yield(zero, err)
		}
	}
}

// ServeStream calls a stream handler through its chain and hands each item
// the handler emits ([Emit]) to each, in the caller's goroutine, so a slow
// consumer holds the handler back. each returns false to stop the stream:
// it is not called again, and Emit returns [ErrStreamClosed] to the
// handler from then on.
//
// ServeStream returns the final response and error as [Chain.Serve] does:
// once the layers' after-code and the after-hooks ran, with what they made
// of the handler's result — also when each stopped the stream early. The
// error is then what the handler returned, usually ErrStreamClosed (match
// it with [errors.Is]), unless a layer or after-hook replaced it. A panic
// in each ends the stream (the layers and after-hooks see it as the
// handler's) and then goes on in the caller, as with a range loop.
func ServeStream[T any](ctx context.Context, ch *Chain, req any, each func(T) bool) (any, error) {
	var (
		open     = true
		panicked bool
		body     any // the panic in each
	)
	sink := func(v T) bool {
		if !open {
			return false
		}
		returned := false
		defer func() {
			if returned {
				return
			}
			open = false
			if v := recover(); v != nil { // nil: runtime.Goexit, which goes on by itself
				panicked, body = true, v
				panic(v) // on through the handler and the layers, to the kernel's recover
			}
		}()
		open = each(v)
		returned = true
		return open
	}
	res, err := ch.h.serve(ctx, ch, req, nil, sink)
	if panicked {
		// The layers and after-hooks saw the panic end the stream; it is
		// the caller's again, whatever a layer made of it.
		panic(body)
	}
	return res, err
}

// Emit sends one item of a stream handler to its consumer, and returns once
// the consumer took it. It returns [ErrStreamClosed] when the consumer
// stopped: for the item it stopped at (which it did receive) and for every
// later one (which it does not). The handler should then return, usually
// with that error, which the layers, the after-hooks and [ServeStream]'s
// caller see. It returns an error when the consumer expects items of
// another type or the call is not a stream.
func Emit[T any](c *Call, v T) error {
	sink, ok := c.sink.(func(T) bool)
	if !ok {
		var zero T
		return fmt.Errorf("ply: handler %s emits %T, but its caller does not stream that type", c.Handler().Name, zero)
	}
	if !sink(v) {
		return ErrStreamClosed
	}
	return nil
}

// compiled is one immutable snapshot of a chain. A reload that changes
// nothing in a chain gives the new generation the same snapshot.
type compiled struct {
	chain     *Chain
	module    *Module
	handler   *Handler
	opts      map[string]any // plugin name -> the handler's decoded options for it
	lazies    []*entry       // lazy plugins that wrap the chain once loaded; nil when none is left
	contrib   []contribution // what each plugin's Wrap gave, in chain order
	levels    []level        // the layers in chain order, then the handler
	hooks     []afterEntry
	observers []LayerObserver // nil unless a plugin measures layers
	prepared  [][]any         // per observer, per level: what PrepareLayer returned
	// preparedHooks is, per observer, per after-hook, what PrepareLayer
	// returned for the hook's sample.
	preparedHooks [][]any
	stats         *chainStats // nil unless the host bakes reloads
	pool          sync.Pool
}

// contribution is one plugin's Wrap of a chain, kept so that a reload
// reuses it when neither the plugin nor its handler options changed.
type contribution struct {
	e    *entry
	opts any // the handler options Wrap was given
	w    Wrap
}

type level struct {
	fn Layer
	e  *entry // nil for the handler
	s  *compiled
}

// fail attributes err to the level's plugin, or to the handler.
func (l *level) fail(err error) error {
	if l.e == nil {
		return &HandlerError{Module: l.s.module.Name, Handler: l.s.handler.Name, Err: err}
	}
	return &PluginError{Op: OpLayer, Plugin: l.e.info.Name, Version: l.e.info.Version, Err: err}
}

type afterEntry struct {
	fn  AfterHook
	e   *entry
	lvl int32 // the plugin's level, or -1 when it has no layer
}

func (s *compiled) init() {
	n := len(s.levels)
	s.pool.New = func() any {
		c := &Call{s: s, lv: make([]callLevel, n), stripe: callStripes.Add(1), measured: s.observers != nil}
		for i := range c.lv {
			c.lv[i].fn = s.levels[i].fn
		}
		return c
	}
}

// begin readies pooled call c for a call on generation g, counted on its
// stripe st.
func (c *Call) begin(req, res, sink any, g *generation, st *stripe) {
	if c.seq >= 1<<31 { // renumber long before int32(last-base) could wrap
		c.renumber()
	}
	c.req, c.res, c.sink, c.g, c.st, c.base = req, res, sink, g, st, c.seq
}

func (c *Call) renumber() {
	for i := range c.lv {
		c.lv[i].last = 0
	}
	c.seq = 0
}

// end returns the response of call c, which run ended with err, and
// returns c to the pool.
func (s *compiled) end(c *Call, err error) (any, error) {
	if s.stats != nil {
		s.stats.record(c.stripe, err)
	}
	res := c.res
	if c.poisoned { // a goroutine may still use it: leave it to the GC
		return res, err
	}
	c.req, c.res, c.sink, c.g, c.st, c.tenant, c.view = nil, nil, nil, nil, nil, nil, nil
	c.frames = c.frames[:0]
	c.clearBag()
	s.pool.Put(c)
	return res, err
}

// run calls the chain and then the after-hooks under the call's one
// recover, and then ends the call on its generation. c.top is 0 outside
// the chain, so its caller counts as the running "level -1".
//
// run enters level 0 itself, as [enter] would from level -1 but
// without its frame and its check: c.top is 0 when a call begins, as a
// call that ended otherwise (poisoned, or left by runtime.Goexit) is never
// reused.
func (s *compiled) run(ctx context.Context, c *Call) (err error) {
	hook := -1 // the running after-hook; -1 while the chain runs
	defer func() {
		if v := recover(); v != nil {
			defer c.g.ended(c.st) // also if rescuing panics
			err = s.rescue(ctx, c, hook, v)
			return
		}
		c.g.ended(c.st) // returned, or runtime.Goexit: the hooks ran or never will
	}()
	if s.observers != nil {
		err = s.enterMeasured(ctx, Next{c: c, lvl: -1}, 0)
	} else {
		c.seq++
		seq := c.seq
		c.top = seq
		l := &c.lv[0]
		l.last = seq
		err = l.fn(ctx, c, Next{c: c, seq: seq})
		if c.top != seq {
			err = c.leave(0, 0, seq, err)
		} else {
			c.top = 0
		}
	}
	for hook = 0; hook < len(s.hooks); hook++ {
		if s.observers != nil {
			err = s.hookMeasured(ctx, c, hook, err)
			continue
		}
		h := &s.hooks[hook]
		err = h.fn(ctx, c, err, c.ran(h.lvl))
	}
	return err
}

// hookMeasured runs after-hook i of a chain with a [LayerObserver], timing
// it and reporting its sample (After set) — also when it panics, with
// [ErrUnwound] as its error.
func (s *compiled) hookMeasured(ctx context.Context, c *Call, i int, err error) (out error) {
	h := &s.hooks[i]
	start := time.Now()
	returned := false
	defer func() {
		took := time.Since(start)
		sample := LayerSample{Plugin: h.e.info.Name, Version: h.e.info.Version, Module: s.module.Name,
			Handler: s.handler.Name, Kind: s.handler.Kind, After: true, Self: took, Took: took, Err: out, Call: c}
		if c.tenant != nil {
			sample.Tenant = c.tenant.name
		}
		if !returned {
			sample.Err = ErrUnwound
		}
		for j, o := range s.observers {
			sample.Prepared = s.preparedHooks[j][i]
			o.ObserveLayer(sample)
		}
	}()
	out = h.fn(ctx, c, err, c.ran(h.lvl))
	returned = true
	return out
}

// rescue turns panic v into the call's error — raised in the chain when
// hook is -1, else in that after-hook — and runs the hooks after it.
func (s *compiled) rescue(ctx context.Context, c *Call, hook int, v any) error {
	if hook < 0 {
		return s.after(ctx, c, 0, c.caught(-1, v))
	}
	return s.after(ctx, c, hook+1, s.hookPanic(hook, v))
}

func (s *compiled) hookPanic(i int, v any) error {
	h := &s.hooks[i]
	return &PluginError{Op: OpAfter, Plugin: h.e.info.Name, Version: h.e.info.Version, Err: &PanicError{Value: v, Stack: stack()}}
}

// after runs the after-hooks from i on under one recover: a hook that
// panics becomes the error, and the hooks after it still run.
func (s *compiled) after(ctx context.Context, c *Call, i int, err error) (out error) {
	defer func() {
		if v := recover(); v != nil {
			out = s.after(ctx, c, i+1, s.hookPanic(i, v))
		}
	}()
	for ; i < len(s.hooks); i++ {
		if s.observers != nil {
			err = s.hookMeasured(ctx, c, i, err)
			continue
		}
		h := &s.hooks[i]
		err = h.fn(ctx, c, err, c.ran(h.lvl))
	}
	return err
}

func stack() []byte { return debug.Stack() }

// handlerRef is a mounted handler with its decoded per-plugin options.
type handlerRef struct {
	module  *Module
	handler *Handler
	opts    map[string]any // plugin name -> decoded options (handler's, else module's)
}

// compile runs the Wrap phase and compiles one snapshot per handler of r,
// for the chains given. With prev (a reload), a plugin instance carried
// over whose handler options did not change keeps its Wrap from prev, and
// a chain whose every part is unchanged keeps prev's snapshot: the Wrap
// hooks that run are those of new instances and changed options.
func (h *Host) compile(ctx context.Context, r *resolved, chains []*Chain, prev *generation, counted bool) ([]*compiled, error) {
	observers, observedBy := observersOf(r)
	sameObservers := prev != nil && slices.Equal(observedBy, prev.observers)
	d := newDelta(prev, r)
	snaps := make([]*compiled, len(chains))
	var scratch []contribution // one chain's contributions, reused: a chain keeps a copy of its exact size
	for i, ch := range chains {
		hr := r.handlers[i]
		var old *compiled
		if prev != nil {
			old = prev.snaps[i]
			if sameObservers && sameHandler(old.handler, hr.handler) && d.spares(old) && reflect.DeepEqual(old.opts, hr.opts) {
				snaps[i] = old // nothing it holds changed: no Wrap runs, nothing is compiled
				continue
			}
		}
		contrib := scratch[:0]
		var lazies []*entry
		hint := 0 // where in old.contrib the next reusable Wrap is: both are in chain order
		for _, e := range r.chain {
			if e.hooks.wrap == nil || e.failed() != nil || !e.wraps(hr.handler.Kind) {
				continue
			}
			opts := hr.opts[e.info.Name]
			if w, ok := old.reuse(e, hr.handler, opts, &hint); ok {
				contrib = append(contrib, contribution{e: e, opts: opts, w: w})
				continue
			}
			if e.lazy != nil && !e.lazy.loaded.Load() { // compiled in by the chain's first call
				lazies = append(lazies, e)
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
				if err := h.failed(e, err); err != nil {
					return nil, err
				}
				continue
			}
			contrib = append(contrib, contribution{e: e, opts: opts, w: w})
		}
		scratch = contrib
		if sameObservers && sameHandler(old.handler, hr.handler) && old.same(contrib) && sameEntries(old.lazies, lazies) && reflect.DeepEqual(old.opts, hr.opts) {
			snaps[i] = old
			continue
		}
		snaps[i] = assemble(ch, hr, slices.Clone(contrib), observers, counted)
		snaps[i].lazies = lazies
	}
	return snaps, nil
}

// assemble compiles one chain from its contributions.
func assemble(ch *Chain, hr *handlerRef, contrib []contribution, observers []LayerObserver, counted bool) *compiled {
	s := &compiled{chain: ch, module: hr.module, handler: hr.handler, opts: hr.opts, contrib: contrib}
	for _, c := range contrib {
		lvl := int32(-1)
		if c.w.Layer != nil {
			lvl = int32(len(s.levels)) //nolint:gosec // a chain has a level per layer, far fewer than 2^31
			s.levels = append(s.levels, level{fn: c.w.Layer, e: c.e, s: s})
		}
		if c.w.After != nil {
			s.hooks = append(s.hooks, afterEntry{fn: c.w.After, e: c.e, lvl: lvl})
		}
	}
	fn := hr.handler.Func
	s.levels = append(s.levels, level{fn: func(ctx context.Context, c *Call, _ Next) error { return fn(ctx, c) }, s: s})
	for _, o := range observers {
		prep := make([]any, len(s.levels))
		wanted := false
		for lv := range s.levels {
			if s.levels[lv].e != nil {
				prep[lv] = o.PrepareLayer(s.sample(int32(lv)))
				wanted = wanted || prep[lv] != nil
			}
		}
		hooks := make([]any, len(s.hooks))
		for i, h := range s.hooks {
			hooks[i] = o.PrepareLayer(LayerSample{Plugin: h.e.info.Name, Version: h.e.info.Version, Module: s.module.Name,
				Handler: s.handler.Name, Kind: s.handler.Kind, After: true})
			wanted = wanted || hooks[i] != nil
		}
		if wanted { // an observer that prepares nothing declines this chain: it costs nothing
			s.observers = append(s.observers, o)
			s.prepared = append(s.prepared, prep)
			s.preparedHooks = append(s.preparedHooks, hooks)
		}
	}
	if counted {
		s.stats = newChainStats()
	}
	s.init()
	return s
}

// reuse returns what e's Wrap gave this snapshot when e is the same
// instance, wrapping the same handler with equal options. It looks from
// *hint on, where the previous match left off, then from the start.
func (s *compiled) reuse(e *entry, hd *Handler, opts any, hint *int) (Wrap, bool) {
	if s == nil || !sameHandler(s.handler, hd) {
		return Wrap{}, false
	}
	n := len(s.contrib)
	for k := range n {
		j := (*hint + k) % n
		if c := s.contrib[j]; c.e.instance == e.instance {
			*hint = j + 1
			return c.w, reflect.DeepEqual(c.opts, opts)
		}
	}
	return Wrap{}, false
}

// delta is what a reload changed that a chain may hold: the wrappers new
// to the plan, the instances it dropped, and each instance's place.
type delta struct {
	fresh []*entry          // new instances that wrap
	place map[*instance]int // the new plan's instances, by chain position
	prio  map[*instance]int // and their priorities
}

func newDelta(prev *generation, r *resolved) *delta {
	if prev == nil {
		return nil
	}
	d := &delta{place: make(map[*instance]int, len(r.chain)), prio: make(map[*instance]int, len(r.chain))}
	before := make(map[*instance]bool, len(prev.r.entries))
	for _, e := range prev.r.entries {
		before[e.instance] = true
	}
	for i, e := range r.chain {
		d.place[e.instance], d.prio[e.instance] = i, e.info.Priority
		if !before[e.instance] && e.hooks.wrap != nil {
			d.fresh = append(d.fresh, e)
		}
	}
	return d
}

// spares reports whether the reload left everything s holds as it was: no
// new plugin wraps its kind, and each plugin that wrapped it is still
// there, unfailed, at the same priority and in the same order.
func (d *delta) spares(s *compiled) bool {
	for _, e := range d.fresh {
		if e.wraps(s.handler.Kind) {
			return false
		}
	}
	for _, e := range s.lazies {
		if _, ok := d.place[e.instance]; !ok || e.lazy.loaded.Load() {
			return false
		}
	}
	last := -1
	for _, c := range s.contrib {
		at, ok := d.place[c.e.instance]
		if !ok || at < last || d.prio[c.e.instance] != c.e.info.Priority || c.e.failed() != nil {
			return false
		}
		last = at
	}
	return true
}

// same reports whether contrib is s's, part for part: the same instances in
// the same order, each with the Wrap s has.
func (s *compiled) same(contrib []contribution) bool {
	if len(contrib) != len(s.contrib) {
		return false
	}
	for i, c := range contrib {
		o := s.contrib[i]
		if c.e.instance != o.e.instance || c.e.info.Priority != o.e.info.Priority ||
			!sameFunc(c.w.Layer, o.w.Layer) || !sameFunc(c.w.After, o.w.After) {
			return false
		}
	}
	return true
}

// sameHandler reports whether a and b are the same handler: the same
// object, or one mounted again (options from a file are new objects each
// time) with the same name, kind, tags and func. Its options are compared
// decoded, by the caller.
func sameHandler(a, b *Handler) bool {
	return a == b || a.Name == b.Name && a.Kind == b.Kind && slices.Equal(a.Tags, b.Tags) && sameFunc(a.Func, b.Func)
}

// sameEntries reports whether a and b hold the same instances in order.
func sameEntries(a, b []*entry) bool {
	return slices.EqualFunc(a, b, func(x, y *entry) bool { return x.instance == y.instance })
}

// sameFunc reports whether a and b are the same func value — as a reused
// Wrap's are — by the closure they point to. Funcs are not comparable in
// Go. reflect's pointer of a func is its code, shared by every closure of
// one function literal (two static handlers with different texts), so the
// closure object itself is compared: a func value is a pointer to it.
func sameFunc[F any](a, b F) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if va.IsNil() || vb.IsNil() {
		return va.IsNil() == vb.IsNil()
	}
	return *(*unsafe.Pointer)(unsafe.Pointer(&a)) == *(*unsafe.Pointer)(unsafe.Pointer(&b)) //nolint:gosec // reads a func value, one pointer, as the runtime lays it out
}

// observersOf returns the plan's layer observers, and their instances.
func observersOf(r *resolved) ([]LayerObserver, []*instance) {
	var observers []LayerObserver
	var by []*instance
	for _, e := range r.lifecycle {
		if o, ok := e.p.(LayerObserver); ok && e.failed() == nil && e.lazy == nil {
			observers = append(observers, o)
			by = append(by, e.instance)
		}
	}
	return observers, by
}

// sample returns the identity of level lvl's samples.
func (s *compiled) sample(lvl int32) LayerSample {
	e := s.levels[lvl].e
	return LayerSample{Plugin: e.info.Name, Version: e.info.Version, Module: s.module.Name,
		Handler: s.handler.Name, Kind: s.handler.Kind}
}

func (e *entry) wraps(k Kind) bool {
	if len(e.info.Kinds) == 0 {
		return true
	}
	for _, want := range e.info.Kinds {
		if want == k {
			return true
		}
	}
	return false
}

// Chains returns every handler's chain, in mount order. It returns nil
// before the Wrap phase. A reload keeps the chains: they are the same
// objects for the life of the host.
func (h *Host) Chains() []*Chain {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*Chain(nil), h.chains...)
}

// Chain returns the chain of the named handler. It returns an error
// matching [ErrNoChain] when no such handler is mounted, or before the Wrap
// phase compiled the chains.
func (h *Host) Chain(module, handler string) (*Chain, error) {
	chains := h.Chains()
	for _, ch := range chains {
		if ch.module == module && ch.name == handler {
			return ch, nil
		}
	}
	if chains == nil {
		return nil, fmt.Errorf("chain %s/%s: the host has not started: %w", module, handler, ErrNoChain)
	}
	return nil, fmt.Errorf("chain %s/%s: no such handler is mounted: %w", module, handler, ErrNoChain)
}

// Mount adds modules of handlers. It returns [ErrStarted] once
// [Host.Start] was called. Problems are reported by [Host.Plan] and
// [Host.Start] with the plugins' problems: an empty module or handler name
// ([ErrEmptyName]), a name mounted twice ([ErrDuplicate]), a handler
// without Func or Kind ([ErrInvalidInfo]), bad options ([*option.Error]).
func (h *Host) Mount(modules ...Module) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state != stateNew {
		return ErrStarted
	}
	for _, m := range modules {
		m.Handlers = append([]Handler(nil), m.Handlers...)
		h.modules = append(h.modules, &m)
	}
	return nil
}

// Explain returns the chain's effective layers, outermost first, with the
// reason each plugin follows the previous one. It lists every plugin that
// contributes a layer or an after-hook.
func (ch *Chain) Explain() Explanation {
	g := ch.h.gen.Load()
	return explainSnap(ch, g.snaps[ch.idx], g.r)
}

// explainSnap explains snapshot s of ch on plan r.
func explainSnap(ch *Chain, s *compiled, r *resolved) Explanation {
	current := make(map[*instance]*entry, len(r.entries)) // a snapshot carried over holds an earlier plan's entries
	for _, e := range r.entries {
		current[e.instance] = e
	}
	seen := make(map[*entry]*Placement)
	var es []*entry
	for i := range s.levels {
		if l := &s.levels[i]; l.e != nil {
			e := current[l.e.instance]
			es = append(es, e)
			seen[e] = &Placement{Plugin: e.info, Layer: true}
		}
	}
	for _, a := range s.hooks {
		e := current[a.e.instance]
		if p, ok := seen[e]; ok {
			p.After = true
			continue
		}
		es = append(es, e)
		seen[e] = &Placement{Plugin: e.info, After: true}
	}
	pos := func(e *entry) int { return r.chainOrd.Position(e.index) }
	sortEntries(es, pos)
	x := Explanation{Kind: ChainOrder, Handler: ch.module + "/" + ch.name}
	p := &Plan{r: r}
	for i, e := range es {
		pl := *seen[e]
		if i > 0 {
			pl.Reason = p.reason(ChainOrder, r.chainOrd.Why(es[i-1].index, e.index))
		}
		x.Steps = append(x.Steps, pl)
	}
	return x
}
