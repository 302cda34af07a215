package eventbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/nats-io/nats.go"
	"github.com/plykit/ply"
)

// Publish delivers v to the subscribers of topic, in this order:
//
//  1. Synchronous subscribers ([Subscribe]) run in the caller's goroutine,
//     by priority and then subscription order. Their errors are collected
//     and delivery goes on, except that an error wrapping [ErrVeto] stops
//     the event there: nothing below happens. A panic is recovered and
//     collected as a *ply.PanicError.
//  2. The event is queued for asynchronous subscribers ([SubscribeAsync]),
//     under each one's [Policy].
//  3. On a bus created [WithConn], it is sent to NATS on topic's subject as
//     JSON, ctx's trace context in the headers ([WithPropagator]): with
//     core NATS (at most once), or for a [Durable] topic through JetStream,
//     waiting for the stream's acknowledgement, with a message ID
//     ([Identifier]) that the stream deduplicates; a publish that no
//     stream answered (a leader election, a server lost) is tried again
//     with the same ID until ctx's deadline, or for 5 s without one, and
//     one not stored fails with [ErrNotStored].
//
// Publish returns nil, the one error, or the errors joined: subscribers'
// errors, [ErrDropped], NATS errors. Other errors: [ErrWildcard],
// [ErrZeroTopic], [ErrClosed].
//
// A publish delivers from the subscriptions present when it started. In
// steady state (no new subscription, no error) it allocates nothing unless
// it sends to NATS.
func Publish[T any](ctx context.Context, b *Bus, topic Topic[T], v T) error {
	r, err := lookup(b, topic)
	if err != nil {
		return err
	}
	var errs []error
	if len(r.sync) > 0 {
		i, vetoed := deliverFrom(ctx, r.sync, 0, v, &errs)
		for i < len(r.sync) && !vetoed { // resume after a panic
			i, vetoed = deliverFrom(ctx, r.sync, i, v, &errs)
		}
		if vetoed {
			return joined(errs)
		}
	}
	if len(r.async) > 0 {
		errs = pushAll(ctx, r.async, v, errs)
	}
	if b.nc != nil {
		if err := send(ctx, b, topic.st, v, false); err != nil {
			errs = append(errs, err)
		}
	}
	return joined(errs)
}

// PublishAsync queues v for the asynchronous subscribers of topic and, on a
// bus created [WithConn], sends it to NATS without waiting for a JetStream
// acknowledgement (a failed durable publish is logged). It does not call
// synchronous subscribers, and no subscriber can veto. Under the [Block]
// policy it waits for room in a full buffer, until ctx is done. Errors are
// those of [Publish].
func PublishAsync[T any](ctx context.Context, b *Bus, topic Topic[T], v T) error {
	r, err := lookup(b, topic)
	if err != nil {
		return err
	}
	var errs []error
	if len(r.async) > 0 {
		errs = pushAll(ctx, r.async, v, errs)
	}
	if b.nc != nil {
		if err := send(ctx, b, topic.st, v, true); err != nil {
			errs = append(errs, err)
		}
	}
	return joined(errs)
}

// lookup returns the route of topic on b. The common case, the first
// cached route being the one for b's current table, is small enough to be
// inlined; the others take resolve, and so does a wildcard topic, which
// never has a route.
func lookup[T any](b *Bus, topic Topic[T]) (*route[T], error) {
	if st := topic.st; st != nil {
		if r := st.routes.Load(); r != nil && r.table == b.table.Load() {
			return r, nil
		}
	}
	return resolve(b, topic)
}

func resolve[T any](b *Bus, topic Topic[T]) (*route[T], error) {
	st := topic.st
	if st == nil {
		return nil, ErrZeroTopic
	}
	if !st.literal {
		return nil, fmt.Errorf("eventbus: publish %s: %w", st.subject, ErrWildcard)
	}
	tab := b.table.Load()
	if r := st.cached(tab); r != nil { // the topic is used with several buses
		return r, nil
	}
	if tab.closed {
		return nil, ErrClosed
	}
	return st.route(tab), nil
}

// deliverFrom runs fns[i:] in order until one vetoes, and returns the
// index to resume from. One deferred recover covers the loop: after a panic,
// the caller resumes with the next subscriber.
func deliverFrom[T any](ctx context.Context, fns []func(context.Context, T) error, i int, v T, errs *[]error) (next int, vetoed bool) {
	defer func() {
		if p := recover(); p != nil {
			*errs = append(*errs, &ply.PanicError{Value: p, Stack: debug.Stack()})
			next, vetoed = i+1, false
		}
	}()
	for ; i < len(fns); i++ {
		if err := fns[i](ctx, v); err != nil {
			*errs = append(*errs, err)
			if errors.Is(err, ErrVeto) {
				return i + 1, true
			}
		}
	}
	return i, false
}

func joined(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errors.Join(errs...)
}

// send publishes v to NATS.
func send[T any](ctx context.Context, b *Bus, st *topicState[T], v T, async bool) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("eventbus: encode %s: %w", st.subject, err)
	}
	m := &nats.Msg{Subject: st.subject, Data: data}
	b.propagator().Inject(ctx, headerCarrier{m})
	setTenant(ctx, m)
	if st.durable {
		return sendDurable(ctx, b, m, eventID(v), async)
	}
	if err = b.nc.PublishMsg(m); err != nil {
		return fmt.Errorf("eventbus: send %s: %w", st.subject, err)
	}
	return nil
}
