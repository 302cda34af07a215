package ply

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Layer is one plugin's layer of a chain: code before next.Run runs outer →
// inner, code after it runs inner → outer. Returning without calling
// next.Run short-circuits: the inner layers and the handler do not run.
// next.Run may be called again, sequentially (retries re-run the inner
// chain); calling it concurrently, or after the layer returned, is an error
// naming the plugin.
type Layer func(ctx context.Context, c *Call, next Next) error

// AfterHook runs for every call of a handler the plugin applies to, once the
// outermost layer has returned, in chain order (outer → inner) — after
// success, short-circuit, error, panic or cancellation. It receives the
// current error and returns the new one (return err to keep it); the
// response is c.Response() and may be replaced with c.SetResponse. ran says
// whether the plugin's own layer was entered during the call. A panicking
// hook becomes a [*PluginError] that later hooks receive.
type AfterHook func(ctx context.Context, c *Call, err error, ran bool) error

// ErrNextMisused is matched by the error a layer gets when next is called
// concurrently or after the layer returned, and the error a call returns
// when a layer returned while its next was still running.
var ErrNextMisused = errors.New("ply: next misused")

// ErrStreamClosed is returned by [Emit] once the consumer stopped reading.
var ErrStreamClosed = errors.New("ply: stream closed by its consumer")

// Call is one invocation of a handler, passed through every layer of its
// chain. It is owned by the call: do not keep it, or anything from it,
// after the handler returns (calls are pooled). It is not safe for
// concurrent use.
type Call struct {
	s        *compiled
	req, res any
	shared   bool
	sink     any         // a stream's func(T) bool
	seq      uint32      // numbers every invocation of a level, never reset (calls are pooled)
	top      uint32      // seq of the innermost running invocation; 0 outside
	lv       []callLevel // per level
	frames   []frame     // running Compose groups
	bag      []bagEntry
	gen      uint32 // bag generation: values set in earlier calls are invisible
	poisoned bool   // a layer left a goroutine running on this call: never reuse it
}

type callLevel struct {
	inv   uint32        // seq of the level's running invocation; 0 when none
	ran   bool          // entered during this call
	nexts bool          // measured chains: the running invocation called next
	inner time.Duration // measured chains: time spent in the running invocation's next
}

// Handler returns the handler being called.
func (c *Call) Handler() *Handler { return c.s.chain.handler }

// Module returns the module of the handler being called.
func (c *Call) Module() *Module { return c.s.chain.module }

// Request returns the call's request: an *http.Request for [KindHTTP], the
// job or event for those kinds, what the caller passed otherwise.
func (c *Call) Request() any { return c.req }

// SetRequest replaces the request the inner layers and the handler see.
func (c *Call) SetRequest(v any) { c.req = v }

// Response returns the current response.
func (c *Call) Response() any { return c.res }

// SetResponse replaces the response.
func (c *Call) SetResponse(v any) { c.res = v }

// Shared reports whether the response was shared with other calls by
// deduplication (see [Call.MarkShared]); after-hooks use it to run side
// effects once.
func (c *Call) Shared() bool { return c.shared }

// MarkShared records that this call's response came from another call (a
// deduplicated or coalesced result).
func (c *Call) MarkShared() { c.shared = true }

func (c *Call) registry() (*Host, *entry) { return c.s.chain.h, nil }

// Next continues a chain from a layer. It is a small value, passed and
// copied freely; it is valid only until the layer that received it returns.
type Next struct {
	c   *Call
	lvl int32
	seq uint32
	fi  int32 // 1 + index of the Compose frame it belongs to; 0 for chain levels
	gi  int32 // member index within that frame
}

// Run calls the rest of the chain (the inner layers and the handler) and
// returns its error. A panic inside becomes a [*PluginError] (or a
// [*HandlerError]) naming where it happened.
//
// Run is inlined into the layer as one direct call; see [compiled.enter].
func (n Next) Run(ctx context.Context) error { return n.c.s.enter(ctx, n) }

func (n Next) slow(ctx context.Context) error {
	c := n.c
	if n.fi != 0 {
		return c.runGroup(ctx, n)
	}
	why := "next called after the layer returned"
	if c.lv[n.lvl].inv == n.seq { // the layer is running, but someone is inside its next
		why = "next called concurrently"
	}
	return c.s.levels[n.lvl].fail(fmt.Errorf("%s: %w", why, ErrNextMisused))
}

// enter runs the level after n's: the one frame per level. Its fast check is
// one comparison — is the layer that holds n the innermost one running? —
// and it holds the recover, so outer layers see an inner panic as an error.
// On the normal path the deferred function only tests a flag: recover is
// called only when the layer did not return.
func (s *compiled) enter(ctx context.Context, n Next) (err error) {
	c := n.c
	if c.top != n.seq || n.fi != 0 {
		return n.slow(ctx)
	}
	lvl := n.lvl + 1
	if s.observers != nil {
		return s.enterMeasured(ctx, n, lvl)
	}
	prev := c.top
	c.seq++
	seq := c.seq
	c.top = seq
	l := &c.lv[lvl]
	l.inv, l.ran = seq, true
	returned := false
	defer func() {
		if !returned {
			if v := recover(); v != nil {
				err = s.levels[lvl].fail(&PanicError{Value: v, Stack: stack()})
			}
			err = c.leave(lvl, seq, prev, err)
		}
	}()
	err = s.levels[lvl].fn(ctx, c, Next{c: c, lvl: lvl, seq: seq})
	returned = true
	if c.top != seq { // a goroutine the layer started is still inside its next
		return c.leave(lvl, seq, prev, err)
	}
	l.inv = 0
	c.top = prev
	return err
}

// enterMeasured is enter for chains with a [LayerObserver]: it also times
// the level, tells its caller that next was called and how long it took,
// and reports the sample.
func (s *compiled) enterMeasured(ctx context.Context, n Next, lvl int32) (err error) {
	c := n.c
	prev := c.top
	c.seq++
	seq := c.seq
	c.top = seq
	l := &c.lv[lvl]
	l.inv, l.ran, l.nexts, l.inner = seq, true, false, 0
	if n.lvl >= 0 {
		c.lv[n.lvl].nexts = true
	}
	start := time.Now()
	defer func() {
		took := time.Since(start)
		if n.lvl >= 0 {
			c.lv[n.lvl].inner += took
		}
		if v := recover(); v != nil {
			err = s.levels[lvl].fail(&PanicError{Value: v, Stack: stack()})
		}
		err = c.leave(lvl, seq, prev, err)
		if s.levels[lvl].e != nil {
			sample := s.sample(lvl)
			sample.Self, sample.Err, sample.ShortCircuit = took-l.inner, err, !l.nexts
			for i, o := range s.observers {
				sample.Prepared = s.prepared[i][lvl]
				o.ObserveLayer(sample)
			}
		}
	}()
	return s.levels[lvl].fn(ctx, c, Next{c: c, lvl: lvl, seq: seq})
}

// leave closes level lvl off the fast path: it catches a layer that
// returned while its next was still running, and makes the level's caller
// the innermost again.
func (c *Call) leave(lvl int32, seq, prev uint32, err error) error {
	if c.top != seq && !c.poisoned {
		c.poisoned = true
		err = errors.Join(err, c.s.levels[lvl].fail(fmt.Errorf("layer returned while its next was still running: %w", ErrNextMisused)))
	}
	c.lv[lvl].inv = 0
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
