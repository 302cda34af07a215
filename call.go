package ply

import (
	"context"
	"errors"
	"time"
)

// Layer is one plugin's layer of a chain: code before next.Run runs outer →
// inner, code after it runs inner → outer. Returning without calling
// next.Run short-circuits: the inner layers and the handler do not run.
// next.Run may be called again, sequentially (retries re-run the inner
// chain); calling it concurrently ([ErrNextConcurrent]) or after the layer
// returned ([ErrNextAfterReturn]), or returning while it still runs
// ([ErrNextStillRunning]), is a [*PluginError] naming the plugin.
type Layer func(ctx context.Context, c *Call, next Next) error

// AfterHook runs for every call of a handler the plugin applies to, once the
// outermost layer has returned, in chain order (outer → inner) — after
// success, short-circuit, error, panic or cancellation. It receives the
// current error and returns the new one (return err to keep it); the
// response is c.Response() and may be replaced with c.SetResponse. ran says
// whether the plugin's own layer was entered during the call. A panicking
// hook becomes a [*PluginError] that later hooks receive.
type AfterHook func(ctx context.Context, c *Call, err error, ran bool) error

// ErrNextMisused is matched by every misuse of a layer's [Next]: the error
// a layer gets when next is called concurrently ([ErrNextConcurrent]) or
// after the layer returned ([ErrNextAfterReturn]), and the error a call
// returns when a layer returned while its next was still running
// ([ErrNextStillRunning]). Each is a [*PluginError] naming the misusing
// plugin.
var ErrNextMisused = errors.New("ply: next misused")

// ErrStreamClosed is returned by [Emit] once the consumer stopped reading.
var ErrStreamClosed = errors.New("ply: stream closed by its consumer")

// Call is one invocation of a handler, passed through every layer of its
// chain. It is owned by the call: do not keep it, or anything from it,
// after the handler returns (calls are pooled). It is not safe for
// concurrent use.
type Call struct {
	s        *compiled
	g        *generation // the call's, for API lookups
	st       *stripe     // g's stripe that counts the call: &g.live[stripe&g.mask]
	stripe   uint32      // which of a generation's stripes counts it
	req, res any
	sink     any         // a stream's func(T) bool
	seq      uint32      // numbers every invocation of a level; reset only before it could wrap
	base     uint32      // seq when this call began
	top      uint32      // seq of the innermost running invocation; 0 outside
	lv       []callLevel // per level
	frames   []frame     // running Compose groups
	bag      []bagEntry
	gen      uint32 // bag generation: values set in earlier calls are invisible
	poisoned bool   // a layer returned while inner invocations ran: never reuse it
	measured bool   // s has observers: its levels run through enterMeasured
	left     int32  // then: the level of that layer
	leftAt   uint32 // and the first invocation number after it returned
}

type callLevel struct {
	fn    Layer         // the level's layer, copied here to save a lookup per level
	last  uint32        // seq of the level's latest invocation: entered during this call if after c.base
	nexts bool          // measured chains: the running invocation called next
	inner time.Duration // measured chains: time spent in the running invocation's next
}

// ran reports whether level lvl was entered during this call.
func (c *Call) ran(lvl int32) bool { return lvl >= 0 && int32(c.lv[lvl].last-c.base) > 0 } //nolint:gosec // serial-number arithmetic: the wrapped difference, as int32, is the signed distance

// Handler returns the handler being called.
func (c *Call) Handler() *Handler { return c.s.handler }

// Module returns the module of the handler being called.
func (c *Call) Module() *Module { return c.s.module }

// Request returns the call's request: an *http.Request for [KindHTTP], the
// job or event for those kinds, what the caller passed otherwise.
func (c *Call) Request() any { return c.req }

// SetRequest replaces the request the inner layers and the handler see.
func (c *Call) SetRequest(v any) { c.req = v }

// Response returns the current response.
func (c *Call) Response() any { return c.res }

// SetResponse replaces the response.
func (c *Call) SetResponse(v any) { c.res = v }

func (c *Call) registry() (*Host, *resolved, *entry) { return c.s.chain.h, c.g.r, nil }

// Next continues a chain from a layer. It is a small value, passed and
// copied freely; it is valid only until the layer that received it returns.
type Next struct {
	c   *Call
	lvl int32
	seq uint32
	grp uint32 // 0 for chain levels; for a Compose member, see [member]
}

// Next stays at four fields so that the compiler keeps it in registers:
// a fifth made every layer copy it through memory, a store-forwarding
// stall that cost more than the rest of the level.

// member packs a Compose member's position: 1 + the frame's index, and the
// member's index in the frame.
func member(fi, gi int) uint32 { return uint32(fi)<<16 | uint32(gi) } //nolint:gosec // fi and gi are non-negative indexes of a call's frames and a group's members, far below 2^32

func (n Next) frame() (fi, gi int) { return int(n.grp >> 16), int(n.grp & 0xffff) }

// Run calls the rest of the chain (the inner layers and the handler) and
// returns its error.
//
// Called while an earlier Run of the same layer invocation is still
// running, it returns a [*PluginError] naming the layer's plugin and
// matching [ErrNextConcurrent]; called after the layer returned, one
// matching [ErrNextAfterReturn]. Both also match [ErrNextMisused].
//
// A panic inside unwinds this layer like any Go panic, up to the nearest
// [Next.Catch] — at the latest the kernel's own, one per call — which turns
// it into a [*PluginError] (or a [*HandlerError]) naming where it happened,
// for the after-hooks and the caller to see. A layer that must see an inner
// panic as the error of its next (to map it, or to retry) calls Catch
// instead. Run is inlined into the layer as one direct call; see
// [enter].
func (n Next) Run(ctx context.Context) error { return enter(ctx, n.c, n) }

// Catch is [Next.Run] for a layer that must see a panic inside its next as
// an error: the panic becomes a [*PluginError] naming the plugin whose layer
// panicked (or a [*HandlerError] naming the handler), returned here, and the
// layer goes on. It costs a deferred recover that Run does not pay. Its
// misuse errors are Run's.
func (n Next) Catch(ctx context.Context) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = n.c.caught(n.lvl, v)
		}
	}()
	return enter(ctx, n.c, n)
}

// caught turns a panic that unwound the levels inside lvl into the error
// lvl's next returns. It names the innermost level running when the panic
// began — c.top still holds its invocation, as no kernel code runs while a
// panic unwinds — and makes lvl's invocation the innermost again.
func (c *Call) caught(lvl int32, v any) error {
	err := c.s.levels[c.innermost(lvl+1)].fail(&PanicError{Value: v, Stack: stack()})
	c.top = 0
	if lvl >= 0 {
		c.top = c.lv[lvl].last
	}
	return err
}

// innermost returns the level of the innermost running invocation (c.top),
// or from when none is found inside it.
func (c *Call) innermost(from int32) int32 {
	at := int32(len(c.lv)) - 1 //nolint:gosec // a chain has a level per layer, far fewer than 2^31
	for at > from && c.lv[at].last != c.top {
		at--
	}
	return at
}

func (n Next) slow(ctx context.Context) error {
	c := n.c
	if n.grp != 0 {
		return c.runGroup(ctx, n)
	}
	kind := ErrNextAfterReturn
	if c.running(n.lvl, n.seq) {
		kind = ErrNextConcurrent
	}
	return c.s.levels[n.lvl].fail(kind)
}

// running reports whether invocation seq of level lvl is still running. A
// level's latest invocation in this call is running if and only if it is
// the innermost running one (c.top) or encloses it. c.top is 0 when no
// level runs: between calls and while the after-hooks run.
func (c *Call) running(lvl int32, seq uint32) bool {
	if c.top == 0 || c.lv[lvl].last != seq || int32(seq-c.base) <= 0 { //nolint:gosec // serial-number arithmetic: the wrapped difference, as int32, is the signed distance
		return false
	}
	for at := int32(len(c.lv)) - 1; at >= lvl; at-- { //nolint:gosec // a chain has a level per layer, far fewer than 2^31
		if c.lv[at].last == c.top {
			return true
		}
	}
	return false
}

// enter runs the level after n's: the one kernel frame per level, with no
// defer (a panic unwinds it; see [Next.Catch]). Its fast check is one
// comparison — is the layer that holds n the innermost one running? — which
// also catches a next called concurrently or after its layer returned.
// Between calls every level's state is left as it is: invocation numbers
// only grow, so stale ones never match.
//
// enter takes a layer's own parameters in a layer's order, n.c as c
// twice: with Go's register ABI the layer it calls then finds ctx and c in
// the registers they came in, and only the new Next moves — 4 instructions
// a level fewer than a method on the compiled chain. Whether the chain is
// measured is a flag in the Call for the same reason: c is in a register.
func enter(ctx context.Context, c *Call, n Next) error {
	if c.top != n.seq { // also true for a Compose member: its seq is its frame's id
		return n.slow(ctx)
	}
	lvl := n.lvl + 1
	if c.measured {
		return c.s.enterMeasured(ctx, n, lvl)
	}
	c.seq++
	seq := c.seq
	c.top = seq
	l := &c.lv[lvl]
	l.last = seq
	err := l.fn(ctx, c, Next{c: c, lvl: lvl, seq: seq})
	if c.top != seq {
		return c.leave(lvl, n.seq, seq, err)
	}
	c.top = n.seq
	return err
}

// enterMeasured is enter for chains with a [LayerObserver]: it also times
// the level, tells its caller that next was called and how long it took,
// and reports the sample — also when a panic unwinds the level, with
// [ErrUnwound] as its error.
func (s *compiled) enterMeasured(ctx context.Context, n Next, lvl int32) (err error) {
	c := n.c
	c.seq++
	seq := c.seq
	c.top = seq
	l := &c.lv[lvl]
	l.last, l.nexts, l.inner = seq, false, 0
	if n.lvl >= 0 {
		c.lv[n.lvl].nexts = true
	}
	start := time.Now()
	returned := false
	defer func() {
		took := time.Since(start)
		if n.lvl >= 0 {
			c.lv[n.lvl].inner += took
		}
		if s.levels[lvl].e == nil {
			return
		}
		sample := s.sample(lvl)
		sample.Self, sample.Took, sample.Err, sample.ShortCircuit, sample.Call = took-l.inner, took, err, !l.nexts, c
		if !returned {
			sample.Err = ErrUnwound
		}
		for i, o := range s.observers {
			sample.Prepared = s.prepared[i][lvl]
			o.ObserveLayer(sample)
		}
	}()
	err = s.levels[lvl].fn(ctx, c, Next{c: c, lvl: lvl, seq: seq})
	returned = true
	if c.top != seq {
		return c.leave(lvl, n.seq, seq, err)
	}
	c.top = n.seq
	return err
}

// ErrUnwound is the error a [LayerSample] carries when a panic unwound the
// layer: the panic itself reaches the after-hooks and the caller as a
// [*PluginError].
var ErrUnwound = errors.New("ply: unwound by a panic")

// leave closes level lvl's invocation seq, whose layer returned while c.top
// names another invocation, and makes prev, its caller's, the innermost.
//
// If an outer layer returned while seq ran, this runs on a goroutine that
// layer started and left inside its next: that layer is named in the error
// this goroutine gets. Otherwise invocations inside seq are still marked
// running: either a panic unwound them and the layer (or middleware in it)
// recovered it without [Next.Catch], or the layer itself left a goroutine
// inside its next. The two look alike here; both end those invocations for
// this call, and the call is never reused, so a goroutine still inside
// meets the error above instead of a call it does not own.
func (c *Call) leave(lvl int32, prev, seq uint32, err error) error {
	if c.poisoned && lvl > c.left && int32(seq-c.leftAt) < 0 { //nolint:gosec // serial-number arithmetic: the wrapped difference, as int32, is the signed distance
		if !errors.Is(err, ErrNextMisused) {
			err = errors.Join(err, c.s.levels[c.left].fail(ErrNextStillRunning))
		}
		return err
	}
	c.poisoned, c.left, c.leftAt = true, lvl, c.seq+1
	c.top = prev
	return err
}

// HandlerError is a failure inside an application handler that the kernel
// caught (a panic), naming the module and the handler.
type HandlerError struct {
	Module, Handler string
	Err             error
}

func (e *HandlerError) Error() string {
	return "handler " + e.Module + "/" + e.Handler + ": " + e.Err.Error()
}

func (e *HandlerError) Unwrap() error { return e.Err }
