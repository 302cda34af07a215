package eventbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// flushTimeout bounds the round trip that confirms a remote subscription.
const flushTimeout = 10 * time.Second

// DefaultBuffer is the buffer size of an asynchronous or remote
// subscription unless [WithBuffer] says otherwise.
const DefaultBuffer = 256

// Policy says what publishing does when an asynchronous subscriber's buffer
// is full.
type Policy int

const (
	// Block waits for room in the buffer: backpressure. The publisher waits
	// (until its context is done; then the event is dropped for that
	// subscriber, counted, and Publish returns an error matching
	// [ErrDropped]). While it waits, subscribers that come later in the
	// delivery order do not receive the event yet; every subscriber's
	// goroutine keeps handling what it already has. The default.
	Block Policy = iota
	// DropOldest makes room by discarding the oldest buffered event.
	DropOldest
	// DropNewest discards the event being published.
	DropNewest
)

func (p Policy) String() string {
	switch p {
	case Block:
		return "block"
	case DropOldest:
		return "drop-oldest"
	case DropNewest:
		return "drop-newest"
	}
	return fmt.Sprintf("Policy(%d)", int(p))
}

// A SubscribeOption configures a subscription.
type SubscribeOption interface{ applySub(*subConfig) }

type subOptionFunc func(*subConfig)

func (f subOptionFunc) applySub(c *subConfig) { f(c) }

type subConfig struct {
	priority  int
	buffer    int
	bufferSet bool
	policy    Policy
	policySet bool
	remote    bool
}

// WithPriority places a subscriber in the delivery order: lower runs first,
// as ply's plugin priorities; equal priorities keep subscription order.
// Default: 0.
func WithPriority(n int) SubscribeOption {
	return subOptionFunc(func(c *subConfig) { c.priority = n })
}

// WithBuffer sets how many events an asynchronous or remote subscription
// holds before its [Policy] applies. It must be > 0. Default:
// [DefaultBuffer].
func WithBuffer(n int) SubscribeOption {
	return subOptionFunc(func(c *subConfig) { c.buffer, c.bufferSet = n, true })
}

// WithPolicy sets what a full buffer of an asynchronous subscription does.
// Default: [Block].
func WithPolicy(p Policy) SubscribeOption {
	return subOptionFunc(func(c *subConfig) { c.policy, c.policySet = p, true })
}

// Remote makes the subscription receive from NATS (every process
// publishing on the bus's connection, this one included) instead of from
// local publishers. The bus must have been created [WithConn].
//
// When Subscribe returns, the server the bus is connected to has registered
// the subscription; the other servers of a cluster learn of it over their
// routes a moment later, and core NATS delivers at most once, so an event
// published there before then reaches no one. Events from one publishing
// connection arrive in the order it sent them, as NATS keeps that order.
//
// The handler runs on the subscription's own goroutine, one event at a
// time, whether it was made with [Subscribe] or [SubscribeAsync]. Core NATS
// cannot be slowed down, so a remote subscription whose buffer is full
// drops the newest message (NATS counts it as a slow consumer);
// [Subscription.Dropped] reports the count. The handler's context carries
// the trace context the message's headers carry (see [WithPropagator]),
// no other value of the publisher's, and is cancelled by
// [Subscription.Stop].
func Remote() SubscribeOption {
	return subOptionFunc(func(c *subConfig) { c.remote = true })
}

// subscriber is a local subscription as the publish path sees it.
type subscriber struct {
	pattern  string
	priority int
	seq      uint64
	// handler is the func(context.Context, T) error of a synchronous
	// subscriber; async is the *queue[T] of an asynchronous one.
	handler, async any
	// deliverRaw decodes a JSON event into the subscriber's type and handles
	// (synchronous) or queues (asynchronous) it.
	deliverRaw func(ctx context.Context, data []byte) error
}

// Subscription is the handle of a subscription. Its methods are safe for
// concurrent use.
type Subscription struct {
	b       *Bus
	pattern string
	local   *subscriber // nil for a remote subscription
	run     runner      // nil for a synchronous local subscription
	once    sync.Once
	done    chan struct{} // for a synchronous local subscription
}

// runner is the goroutine of an asynchronous or remote subscription.
type runner interface {
	stop()
	drain()
	finished() <-chan struct{}
	dropped() uint64
}

// Subject returns the subject or pattern subscribed to.
func (s *Subscription) Subject() string { return s.pattern }

// Stop ends the subscription: no event is delivered to it after Stop
// returns, except that a publish already delivering may still call a
// synchronous handler once. An asynchronous or remote handler that is
// running is not interrupted, but its context is cancelled; buffered events
// are discarded. Stop returns at once; [Subscription.Done] is closed when
// the handler has returned for the last time. Stop is idempotent.
func (s *Subscription) Stop() {
	s.b.remove(s)
	if s.run != nil {
		s.run.stop()
		return
	}
	s.once.Do(func() { close(s.done) })
}

// Drain ends the subscription like [Subscription.Stop], except that an
// asynchronous or remote subscription first handles the events it holds
// (a remote one, also those NATS has in flight to it). It returns when the
// last handler has returned, or with ctx's error when ctx is done first (the
// subscription then stops when its handler returns).
func (s *Subscription) Drain(ctx context.Context) error {
	s.b.remove(s)
	if s.run == nil {
		s.once.Do(func() { close(s.done) })
		return nil
	}
	s.run.drain()
	select {
	case <-s.run.finished():
		return nil
	case <-ctx.Done():
		s.run.stop()
		return context.Cause(ctx)
	}
}

// Done is closed once the subscription has ended ([Subscription.Stop],
// [Subscription.Drain] or [Bus.Close]) and its handler will not run again.
func (s *Subscription) Done() <-chan struct{} {
	if s.run != nil {
		return s.run.finished()
	}
	return s.done
}

// Dropped returns how many events this subscription lost because its
// buffer was full (see [Policy] and [Remote]). It is 0 for a synchronous
// local subscription.
func (s *Subscription) Dropped() uint64 {
	if s.run == nil {
		return 0
	}
	return s.run.dropped()
}

// Subscribe calls fn for every event published on a subject matching
// topic's subject (which may have wildcards), in the publisher's goroutine,
// during [Publish]: subscribers run one after the other, by [WithPriority]
// and then subscription order. fn's error is returned by Publish (joined
// with the other subscribers'); an error wrapping [ErrVeto] stops the
// delivery. A panic in fn is recovered and returned as a *ply.PanicError.
// Events published with [PublishAsync] do not reach synchronous subscribers.
//
// With [Remote], fn receives events from NATS instead, on the
// subscription's goroutine; its errors and panics are logged.
//
// When an event comes from a topic of another type (a wildcard matched it),
// it is converted through JSON; a conversion error is fn's error.
//
// Subscribe returns an error for an invalid option, [ErrClosed],
// [ErrZeroTopic], or [ErrNoConn] and NATS errors for a remote subscription.
func Subscribe[T any](b *Bus, topic Topic[T], fn func(context.Context, T) error, opts ...SubscribeOption) (*Subscription, error) {
	return subscribe(b, topic, fn, false, opts)
}

// SubscribeAsync calls fn for every event published on a subject matching
// topic's subject, on a goroutine of the subscription's own, one event at a
// time, in publish order (for one publisher). Events wait in a buffer
// ([WithBuffer]); when it is full, [WithPolicy] decides: [Block] the
// publisher (the default), or drop and count ([Subscription.Dropped]) and
// log. A slow subscriber delays no other subscriber, except under [Block]
// as that policy says. fn's errors and panics are logged. fn's context
// carries the values of the publisher's (its trace context among them) but
// not its cancellation: it is cancelled by [Subscription.Stop]. With
// [Remote], see [Remote].
func SubscribeAsync[T any](b *Bus, topic Topic[T], fn func(context.Context, T) error, opts ...SubscribeOption) (*Subscription, error) {
	return subscribe(b, topic, fn, true, opts)
}

func subscribe[T any](b *Bus, topic Topic[T], fn func(context.Context, T) error, async bool, opts []SubscribeOption) (*Subscription, error) {
	if topic.st == nil {
		return nil, ErrZeroTopic
	}
	if fn == nil {
		return nil, errors.New("eventbus: subscribe with a nil handler")
	}
	c := subConfig{buffer: DefaultBuffer, policy: Block}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("eventbus: nil SubscribeOption")
		}
		o.applySub(&c)
	}
	pattern := topic.st.subject
	switch {
	case c.bufferSet && c.buffer <= 0:
		return nil, fmt.Errorf("eventbus: WithBuffer(%d): must be > 0", c.buffer)
	case c.bufferSet && !async && !c.remote:
		return nil, errors.New("eventbus: WithBuffer applies to SubscribeAsync and Remote subscriptions")
	case c.policySet && (!async || c.remote):
		return nil, errors.New("eventbus: WithPolicy applies to local SubscribeAsync subscriptions (a remote one drops the newest)")
	case c.policy < Block || c.policy > DropNewest:
		return nil, fmt.Errorf("eventbus: WithPolicy(%v): unknown policy", c.policy)
	}
	s := &Subscription{b: b, pattern: pattern}
	if c.remote {
		if b.nc == nil {
			return nil, fmt.Errorf("eventbus: remote subscription to %s: %w", pattern, ErrNoConn)
		}
		r, err := newRemote(b, pattern, c.buffer, fn)
		if err != nil {
			return nil, err
		}
		s.run = r
		if err := b.add(s); err != nil {
			r.stop()
			return nil, err
		}
		return s, nil
	}
	sub := &subscriber{pattern: pattern, priority: c.priority}
	if async {
		q := newQueue(b, pattern, c.buffer, c.policy, fn)
		sub.async = q
		sub.deliverRaw = func(ctx context.Context, data []byte) error {
			var v T
			if err := json.Unmarshal(data, &v); err != nil {
				return fmt.Errorf("eventbus: decode event for subscriber of %s: %w", pattern, err)
			}
			return q.push(ctx, v)
		}
		s.run = q
	} else {
		sub.handler = fn
		sub.deliverRaw = func(ctx context.Context, data []byte) error {
			var v T
			if err := json.Unmarshal(data, &v); err != nil {
				return fmt.Errorf("eventbus: decode event for subscriber of %s: %w", pattern, err)
			}
			return fn(ctx, v)
		}
		s.done = make(chan struct{})
	}
	s.local = sub
	if err := b.add(s); err != nil {
		if s.run != nil {
			s.run.stop()
		}
		return nil, err
	}
	return s, nil
}

// newRemote subscribes to pattern on NATS and starts the goroutine that
// decodes and handles messages.
func newRemote[T any](b *Bus, pattern string, buffer int, fn func(context.Context, T) error) (*remote[T], error) {
	msgs := make(chan *nats.Msg, buffer) // the subscription's buffer, WithBuffer
	ns, err := b.nc.ChanSubscribe(pattern, msgs)
	if err == nil {
		err = b.nc.FlushTimeout(flushTimeout) // the server knows the subscription when Subscribe returns
		if err != nil {
			_ = ns.Unsubscribe()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("eventbus: remote subscription to %s: %w", pattern, err)
	}
	ctx, cancel := context.WithCancel(context.Background()) //nolint:gosec // cancel is kept in the remote subscription and called by stop
	r := &remote[T]{
		b: b, pattern: pattern, fn: fn, ns: ns, msgs: msgs,
		closed: ns.StatusChanged(nats.SubscriptionClosed),
		ctx:    ctx, cancel: cancel,
		stopc: make(chan struct{}), done: make(chan struct{}),
	}
	go r.loop()
	return r, nil
}
