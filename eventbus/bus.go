package eventbus

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
)

// Bus delivers events published to [Topic]s to the subscriptions on it, and,
// created [WithConn], to and from NATS. Create one with [New]. A Bus is safe
// for concurrent use; subscribing and stopping subscriptions never block
// publishers, which deliver from an immutable snapshot of the subscriptions.
type Bus struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	logger *slog.Logger
	prop   propagation.TextMapPropagator // nil: the global one

	// table is the current snapshot; writers replace it under mu.
	table atomic.Pointer[table]

	mu     sync.Mutex
	seq    uint64
	subs   map[*Subscription]struct{} // every live subscription, local and remote
	closed bool
}

// table is an immutable snapshot of the local subscriptions, sorted by
// (priority, subscription order). Topics cache what they resolved against
// one table (see topicState.route), so a new table invalidates them all.
type table struct {
	bus    *Bus
	closed bool
	subs   []*subscriber
}

// An Option configures a [Bus].
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	nc     *nats.Conn
	logger *slog.Logger
	prop   propagation.TextMapPropagator
	errs   []error
}

// WithConn also delivers events across processes over nc: [Publish] and
// [PublishAsync] send every event to NATS on its topic's subject, and
// subscriptions made with [Remote] receive from NATS. The bus does not own
// nc: closing the bus does not close it. Default: local delivery only.
func WithConn(nc *nats.Conn) Option {
	return optionFunc(func(c *config) {
		if nc == nil {
			c.errs = append(c.errs, errors.New("eventbus: WithConn(nil): pass a connection, or leave the option out for a local bus"))
			return
		}
		c.nc = nc
	})
}

// WithLogger sets the logger for what has no caller to return to: errors
// and panics of asynchronous and remote subscribers, and dropped events.
// Default: [slog.Default].
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l == nil {
			c.errs = append(c.errs, errors.New("eventbus: WithLogger(nil): pass a logger, or slog.New(slog.DiscardHandler) to discard"))
			return
		}
		c.logger = l
	})
}

// WithPropagator sets how the trace context (and whatever else p
// propagates, such as baggage) crosses NATS: a publish injects it into the
// message's headers, a [Remote] subscription extracts it into its
// handler's context. Default: the global propagator,
// [otel.GetTextMapPropagator] at each message, which propagates nothing
// until the application sets one with [otel.SetTextMapPropagator].
func WithPropagator(p propagation.TextMapPropagator) Option {
	return optionFunc(func(c *config) {
		if p == nil {
			c.errs = append(c.errs, errors.New("eventbus: WithPropagator(nil): pass a propagator, or leave the option out for the global one"))
			return
		}
		c.prop = p
	})
}

// New returns a bus. It returns an error only for invalid options.
func New(opts ...Option) (*Bus, error) {
	c := config{logger: slog.Default()}
	for _, o := range opts {
		if o == nil {
			c.errs = append(c.errs, errors.New("eventbus: nil Option"))
			continue
		}
		o.apply(&c)
	}
	if err := errors.Join(c.errs...); err != nil {
		return nil, err
	}
	b := &Bus{nc: c.nc, logger: c.logger, prop: c.prop, subs: make(map[*Subscription]struct{})}
	if c.nc != nil {
		js, err := jetstream.New(c.nc, jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
			b.logger.Error("eventbus: durable publish", "subject", m.Subject, "err", err)
		}))
		if err != nil {
			return nil, err
		}
		b.js = js
	}
	b.table.Store(&table{bus: b})
	return b, nil
}

// propagator returns the propagator of trace context over NATS.
func (b *Bus) propagator() propagation.TextMapPropagator {
	if b.prop != nil {
		return b.prop
	}
	return otel.GetTextMapPropagator()
}

// headerCarrier carries a propagator's fields in a NATS message's headers,
// which it creates on the first Set: a message without trace context has
// none.
type headerCarrier struct{ m *nats.Msg }

func (c headerCarrier) Get(key string) string { return c.m.Header.Get(key) }

func (c headerCarrier) Set(key, value string) {
	if c.m.Header == nil {
		c.m.Header = nats.Header{}
	}
	c.m.Header.Set(key, value)
}

func (c headerCarrier) Keys() []string {
	keys := make([]string, 0, len(c.m.Header))
	for k := range c.m.Header {
		keys = append(keys, k)
	}
	return keys
}

// Close stops new publishes and subscriptions (they fail with [ErrClosed]),
// drains every subscription (see [Subscription.Drain]) and waits for
// pending durable publishes of [PublishAsync]. It returns ctx's error if
// ctx is done first; the subscriptions still stop, in the background. Close
// is idempotent.
func (b *Bus) Close(ctx context.Context) error {
	b.mu.Lock()
	b.closed = true
	subs := make([]*Subscription, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	b.table.Store(&table{bus: b, closed: true})
	b.mu.Unlock()
	var errs []error
	for _, s := range subs {
		if err := s.Drain(ctx); err != nil {
			errs = append(errs, err)
			break // ctx is done: the rest would fail the same way
		}
	}
	if b.js != nil {
		select {
		case <-b.js.PublishAsyncComplete():
		case <-ctx.Done():
			errs = append(errs, context.Cause(ctx))
		}
	}
	return errors.Join(errs...)
}

// add registers s, and its local subscriber if any, under a new table.
func (b *Bus) add(s *Subscription) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	b.subs[s] = struct{}{}
	if s.local != nil {
		b.seq++
		s.local.seq = b.seq
		old := b.table.Load()
		subs := append(slices.Clip(old.subs), s.local)
		slices.SortStableFunc(subs, func(x, y *subscriber) int {
			if x.priority != y.priority {
				return cmpInt(x.priority, y.priority)
			}
			return cmpInt(x.seq, y.seq)
		})
		b.table.Store(&table{bus: b, subs: subs})
	}
	return nil
}

// remove unregisters s; it reports whether s was registered.
func (b *Bus) remove(s *Subscription) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[s]; !ok {
		return false
	}
	delete(b.subs, s)
	if s.local != nil {
		old := b.table.Load()
		if !old.closed {
			subs := slices.DeleteFunc(slices.Clone(old.subs), func(x *subscriber) bool { return x == s.local })
			b.table.Store(&table{bus: b, subs: subs})
		}
	}
	return true
}

func cmpInt[N int | uint64](a, b N) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
