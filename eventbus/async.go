package eventbus

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/plykit/ply"
)

// queue is a local asynchronous subscription: a buffer and the goroutine
// that empties it. The goroutine receives with a plain channel receive (no
// select: it is the hot path); stop and drain set a flag and wake it with an
// item that carries no event.
type queue[T any] struct {
	b       *Bus
	pattern string
	policy  Policy
	fn      func(context.Context, T) error
	ch      chan item[T] // the buffer, WithBuffer events

	ctx      context.Context // handlers' context, cancelled by stop
	cancel   context.CancelFunc
	stopping atomic.Bool // quit now
	draining atomic.Bool // quit once the buffer is empty
	stopOnce sync.Once
	done     chan struct{} // closed when loop returns
	drops    atomic.Uint64
}

type item[T any] struct {
	v    T
	wake bool // no event: look at the flags
}

func newQueue[T any](b *Bus, pattern string, buffer int, policy Policy, fn func(context.Context, T) error) *queue[T] {
	ctx, cancel := context.WithCancel(context.Background())
	q := &queue[T]{
		b: b, pattern: pattern, policy: policy, fn: fn,
		ch:  make(chan item[T], buffer),
		ctx: ctx, cancel: cancel,
		done: make(chan struct{}),
	}
	go q.loop()
	return q
}

// push queues v according to the policy. It returns an error only under
// Block, when ctx is done before there is room.
func (q *queue[T]) push(ctx context.Context, v T) error {
	select {
	case q.ch <- item[T]{v: v}:
		return nil
	default:
	}
	switch q.policy {
	case DropNewest:
		q.drop()
		return nil
	case DropOldest:
		for {
			select {
			case q.ch <- item[T]{v: v}:
				return nil
			default:
			}
			select {
			case it := <-q.ch:
				if !it.wake {
					q.drop()
				}
			default:
			}
		}
	default: // Block
		select {
		case q.ch <- item[T]{v: v}:
			return nil
		case <-q.done: // the subscription ended while we waited
			return nil
		case <-ctx.Done():
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
		if q.stopping.Load() {
			return
		}
		var it item[T]
		if q.draining.Load() {
			select {
			case it = <-q.ch:
			default:
				return // drained
			}
		} else {
			it = <-q.ch
		}
		if !it.wake {
			q.handle(it.v)
		}
	}
}

func (q *queue[T]) handle(v T) {
	if err := call(q.ctx, q.fn, v); err != nil {
		q.b.logger.Error("eventbus: async subscriber", "subject", q.pattern, "err", err)
	}
}

// wake makes sure the loop looks at the flags: if the buffer has room, the
// loop may be waiting on an empty buffer, and the wake item ends the wait;
// if it is full, the loop is busy and looks at the flags after this event.
func (q *queue[T]) wake() {
	select {
	case q.ch <- item[T]{wake: true}:
	default:
	}
}

func (q *queue[T]) stop() {
	q.stopOnce.Do(func() {
		q.cancel()
		q.stopping.Store(true)
		q.wake()
	})
}

func (q *queue[T]) drain() {
	q.draining.Store(true)
	q.wake()
}

func (q *queue[T]) finished() <-chan struct{} { return q.done }
func (q *queue[T]) dropped() uint64           { return q.drops.Load() }

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
	var v T
	err := json.Unmarshal(m.Data, &v)
	if err == nil {
		err = call(r.ctx, r.fn, v)
	} else {
		err = fmt.Errorf("decode: %v", err)
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
