package eventbus

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/plykit/ply"
)

// queue is a local asynchronous subscription: a buffer and the goroutine
// that empties it. The goroutine receives with a plain channel receive (no
// select: it is the hot path); stop and drain set the state and wake it
// with an item that carries no event.
type queue[T any] struct {
	b       *Bus
	pattern string
	policy  Policy
	fn      func(context.Context, T) error
	ch      chan item[T] // the buffer, WithBuffer events

	ctx      context.Context // the subscription's, cancelled by stop
	cancel   context.CancelFunc
	state    atomic.Int32 // running, draining or stopping
	stopOnce sync.Once
	done     chan struct{} // closed when loop returns
	drops    atomic.Uint64
}

// The states of a queue.
const (
	running  int32 = iota
	draining       // quit once the buffer is empty
	stopping       // quit now
)

// item is an event in a queue, with the context it was published with.
// An item whose ctx is wakeCtx carries no event: it wakes the loop to look
// at the state.
type item[T any] struct {
	ctx context.Context
	v   T
}

// wakeCtx marks a wake item. It is a pointer of a type of its own, so
// that telling an event from a wake item compares two words.
var wakeCtx context.Context = new(wakeContext)

type wakeContext struct{ context.Context }

func newQueue[T any](b *Bus, pattern string, buffer int, policy Policy, fn func(context.Context, T) error) *queue[T] {
	ctx, cancel := context.WithCancel(context.Background()) //nolint:gosec // cancel is kept in the queue and called by stop
	q := &queue[T]{
		b: b, pattern: pattern, policy: policy, fn: fn,
		ch:  make(chan item[T], buffer),
		ctx: ctx, cancel: cancel,
		done: make(chan struct{}),
	}
	go q.loop()
	return q
}

// push queues v, published with ctx, according to the policy. It returns
// an error only under Block, when ctx is done before there is room. The
// common case, room in the buffer, is small enough to be inlined.
func (q *queue[T]) push(ctx context.Context, v T) error {
	select {
	case q.ch <- item[T]{ctx: ctx, v: v}:
		return nil
	default:
		return q.full(ctx, v)
	}
}

// full applies the policy to v when the buffer was full.
func (q *queue[T]) full(ctx context.Context, v T) error {
	it := item[T]{ctx: ctx, v: v}
	switch q.policy {
	case DropNewest:
		q.drop()
		return nil
	case DropOldest:
		for {
			select {
			case q.ch <- it:
				return nil
			default:
			}
			select {
			case old := <-q.ch:
				if old.ctx != wakeCtx {
					q.drop()
				}
			default:
			}
		}
	default: // Block
		var done <-chan struct{} // a nil ctx never ends the wait
		if ctx != nil {
			done = ctx.Done()
		}
		select {
		case q.ch <- it:
			return nil
		case <-q.done: // the subscription ended while we waited
			return nil
		case <-done:
			q.drop()
			return fmt.Errorf("eventbus: subscriber of %s: %w: %w", q.pattern, ErrDropped, context.Cause(ctx))
		}
	}
}

// drop counts a dropped event and logs the 1st, 2nd, 4th, 8th… drop, so a
// subscriber that keeps dropping is visible without flooding the log.
func (q *queue[T]) drop() {
	if n := q.drops.Add(1); n&(n-1) == 0 {
		q.b.logger.Warn("eventbus: subscriber buffer full, event dropped",
			"subject", q.pattern, "policy", q.policy.String(), "dropped", n)
	}
}

func (q *queue[T]) loop() {
	defer close(q.done)
	for {
		if q.run() {
			return
		}
		// a handler panicked: go on with the next event
	}
}

// run handles events until the subscription ends, and reports that it
// did; it returns false after a handler's panic, which it logs. One
// deferred recover covers many events: a recover per event would cost as
// much as the handling itself.
func (q *queue[T]) run() (ended bool) {
	defer func() {
		if p := recover(); p != nil {
			q.b.logger.Error("eventbus: async subscriber", "subject", q.pattern,
				"err", &ply.PanicError{Value: p, Stack: debug.Stack()})
		}
	}()
	for {
		var it item[T]
		switch q.state.Load() {
		case stopping:
			return true
		case draining:
			select {
			case it = <-q.ch:
			default:
				return true // drained
			}
		default:
			it = <-q.ch
		}
		if it.ctx == wakeCtx {
			continue // woken to look at the state
		}
		if err := q.fn(handlerContext(q.ctx, it.ctx), it.v); err != nil {
			q.b.logger.Error("eventbus: async subscriber", "subject", q.pattern, "err", err)
		}
	}
}

// wake makes sure the loop looks at the state: if the buffer has room, the
// loop may be waiting on an empty buffer, and the wake item ends the wait;
// if it is full, the loop is busy and looks at the state after this event.
func (q *queue[T]) wake() {
	select {
	case q.ch <- item[T]{ctx: wakeCtx}:
	default:
	}
}

func (q *queue[T]) stop() {
	q.stopOnce.Do(func() {
		q.cancel()
		q.state.Store(stopping)
		q.wake()
	})
}

func (q *queue[T]) drain() {
	q.state.CompareAndSwap(running, draining)
	q.wake()
}

func (q *queue[T]) finished() <-chan struct{} { return q.done }
func (q *queue[T]) dropped() uint64           { return q.drops.Load() }

// handlerContext returns the context an asynchronous handler receives for
// an event published with pub: the values of pub (its trace context, and
// whatever else the publisher carried, as [context.WithoutCancel] keeps
// them), and the cancellation of sub, the subscription's context, not
// pub's: the handler outlives the publish.
func handlerContext(sub, pub context.Context) context.Context {
	if pub == nil || pub == background || pub == todo {
		return sub // no values to carry: spare the allocation
	}
	return &carried{Context: sub, pub: pub}
}

var background, todo = context.Background(), context.TODO()

// carried is the context of handlerContext.
type carried struct {
	context.Context // the subscription's: Deadline, Done, Err
	pub             context.Context
}

// Value looks key up in the subscription's context first: a
// WithCancel(Background) context knows only the context package's own
// key, which must lead to the subscription's cancellation (for
// [context.Cause], and for contexts derived from this one), not to the
// publisher's. Every other key is the publisher's.
func (c *carried) Value(key any) any {
	if v := c.Context.Value(key); v != nil {
		return v
	}
	return c.pub.Value(key)
}

// remote is a subscription that receives from NATS.
type remote[T any] struct {
	b       *Bus
	pattern string
	fn      func(context.Context, T) error
	ns      *nats.Subscription
	msgs    chan *nats.Msg
	closed  <-chan nats.SubStatus // closed when NATS closes ns (drained, unsubscribed, connection closed)

	ctx      context.Context
	cancel   context.CancelFunc
	stopOnce sync.Once
	stopc    chan struct{}
	done     chan struct{}
}

func (r *remote[T]) loop() {
	defer close(r.done)
	for {
		select { // a stop wins over buffered messages
		case <-r.stopc:
			return
		default:
		}
		select {
		case m := <-r.msgs:
			r.handle(m)
		case <-r.stopc:
			return
		case _, ok := <-r.closed:
			if ok {
				continue // the status itself; the channel closes right after
			}
			for {
				select {
				case m := <-r.msgs:
					r.handle(m)
				case <-r.stopc:
					return
				default:
					return
				}
			}
		}
	}
}

func (r *remote[T]) handle(m *nats.Msg) {
	v, err := decodeEvent[T](m.Data)
	if err == nil {
		ctx := withTenant(r.b.propagator().Extract(r.ctx, headerCarrier{m}), m)
		err = call(ctx, r.fn, v)
	} else {
		err = fmt.Errorf("decode: %w", err)
	}
	if err != nil {
		r.b.logger.Error("eventbus: remote subscriber", "subject", m.Subject, "pattern", r.pattern, "err", err)
	}
}

func (r *remote[T]) stop() {
	r.stopOnce.Do(func() {
		_ = r.ns.Unsubscribe() // fails only if already closed
		r.cancel()
		close(r.stopc)
	})
}

func (r *remote[T]) drain() {
	if err := r.ns.Drain(); err != nil { // already closed: nothing more will come
		r.stop()
	}
}

func (r *remote[T]) finished() <-chan struct{} { return r.done }

func (r *remote[T]) dropped() uint64 {
	n, _ := r.ns.Dropped() // an error means closed; n is then 0
	return uint64(max(n, 0))
}

// call runs fn under recover: a panic becomes a *ply.PanicError.
func call[T any](ctx context.Context, fn func(context.Context, T) error, v T) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &ply.PanicError{Value: p, Stack: debug.Stack()}
		}
	}()
	return fn(ctx, v)
}
