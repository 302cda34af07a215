package eventbus

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
)

// Topic names a stream of events of type T by a NATS subject. Create topics
// with [NewTopic], once, as package variables; a Topic is a small value,
// cheap to copy, and safe for concurrent use. A Topic may be published on
// several buses: it keeps the subscribers it resolved on each, so a
// publish allocates nothing in steady state whichever bus it is on.
//
// The subject is the topic's stable name on the wire (never a Go type name):
// publishers and subscribers in different processes agree on it. Events are
// encoded as JSON on the wire, and when a wildcard subscriber's type differs
// from the publishing topic's type.
type Topic[T any] struct{ st *topicState[T] }

type topicState[T any] struct {
	subject string
	literal bool
	durable bool
	// routes lists, for each bus the topic is published on, the route
	// resolved against the table of that bus a publish last saw: a publish
	// finds its bus's route by comparing table pointers, so using the topic
	// with several buses costs nothing more in steady state. Adding a route
	// replaces the list (copy on write) and drops the routes of stale
	// tables, among them those of closed buses.
	routes atomic.Pointer[route[T]]
}

// A TopicOption configures a [Topic].
type TopicOption interface{ applyTopic(*topicConfig) }

type topicOptionFunc func(*topicConfig)

func (f topicOptionFunc) applyTopic(c *topicConfig) { f(c) }

type topicConfig struct{ durable bool }

// Durable sets whether the topic is durable. Durable(true) sends the
// topic's events to NATS through JetStream, on a bus created [WithConn]:
// [Publish] returns once a stream holding the subject has stored the
// event, and fails if no stream holds it. Creating that stream is the
// wiring's job. Remote subscribers receive durable events like the others
// (the stream keeps them for replay by JetStream consumers). Default:
// false, core NATS (at most once, no stream needed).
func Durable(on bool) TopicOption {
	return topicOptionFunc(func(c *topicConfig) { c.durable = on })
}

// NewTopic returns the topic of events of type T on subject, a NATS subject
// ("orders.created"). A subject with wildcards ("orders.*", "orders.>") makes
// a topic to subscribe to, not to publish on. NewTopic panics on an invalid
// subject (empty, an empty token, whitespace, ">" before the last token), as
// that is a programming error.
func NewTopic[T any](subject string, opts ...TopicOption) Topic[T] {
	if !validSubject(subject) {
		panic(fmt.Sprintf("eventbus: topic %q: invalid NATS subject", subject))
	}
	var c topicConfig
	for _, o := range opts {
		o.applyTopic(&c)
	}
	return Topic[T]{st: &topicState[T]{subject: subject, literal: literal(subject), durable: c.durable}}
}

// Subject returns the topic's subject.
func (t Topic[T]) Subject() string {
	if t.st == nil {
		return ""
	}
	return t.st.subject
}

func (t Topic[T]) String() string { return t.Subject() }

// route is what a publish of a Topic[T] delivers to, resolved against one
// table: the matching local subscribers as typed functions, in order.
type route[T any] struct {
	table *table
	sync  []func(context.Context, T) error // run in the publisher's goroutine
	async []pusher[T]                      // queue the event and return
	next  *route[T]                        // the route on another bus
}

// pusher queues events of type T for one asynchronous subscriber: q when
// it subscribed with type T, else convert, through JSON.
type pusher[T any] struct {
	q       *queue[T]
	convert func(context.Context, T) error
}

// pushAll queues v, published with ctx, for every pusher in ps, and
// returns their errors.
func pushAll[T any](ctx context.Context, ps []pusher[T], v T, errs []error) []error {
	for i := range ps {
		var err error
		if q := ps[i].q; q != nil {
			err = q.push(ctx, v) // inlined: a buffer with room costs one call
		} else {
			err = ps[i].convert(ctx, v)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// cached returns the route resolved against tab, or nil.
func (st *topicState[T]) cached(tab *table) *route[T] {
	r := st.routes.Load()
	for r != nil && r.table != tab {
		r = r.next
	}
	return r
}

// route resolves the route of st on tab's bus and caches it in place of
// that bus's previous one.
func (st *topicState[T]) route(tab *table) *route[T] {
	r := &route[T]{table: tab}
	for _, s := range tab.subs {
		if !match(s.pattern, st.subject) {
			continue
		}
		if s.async == nil {
			r.sync = append(r.sync, syncFunc[T](s))
		} else {
			r.async = append(r.async, asyncPusher[T](s))
		}
	}
	for {
		old := st.routes.Load()
		r.next = nil
		tail := &r.next
		for o := old; o != nil; o = o.next {
			if o.table.bus != tab.bus && o.table.bus.table.Load() == o.table { // another bus's current route
				c := *o // routes are immutable once cached: copy to relink
				c.next = nil
				*tail = &c
				tail = &c.next
			}
		}
		if st.routes.CompareAndSwap(old, r) {
			return r
		}
	}
}

// syncFunc returns s's handler for events of type T: the handler itself when
// s subscribed with type T, else one that converts through JSON.
func syncFunc[T any](s *subscriber) func(context.Context, T) error {
	if f, ok := s.handler.(func(context.Context, T) error); ok {
		return f
	}
	return func(ctx context.Context, v T) error {
		data, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("eventbus: encode %T for subscriber of %s: %w", v, s.pattern, err)
		}
		return s.deliverRaw(ctx, data)
	}
}

// asyncPusher returns what queues events of type T for s.
func asyncPusher[T any](s *subscriber) pusher[T] {
	if q, ok := s.async.(*queue[T]); ok {
		return pusher[T]{q: q}
	}
	return pusher[T]{convert: func(ctx context.Context, v T) error {
		data, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("eventbus: encode %T for subscriber of %s: %w", v, s.pattern, err)
		}
		return s.deliverRaw(ctx, data)
	}}
}
