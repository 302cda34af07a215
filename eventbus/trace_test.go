package eventbus_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/plykit/ply/eventbus"
	"github.com/plykit/ply/internal/natstest"
)

// tracer returns a tracer of a real SDK provider whose spans the returned
// exporter holds once ended.
func tracer(t *testing.T) (trace.Tracer, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() {
		if err := tp.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return tp.Tracer("eventbus_test"), exp
}

// span returns the ended span named name.
func span(t *testing.T, exp *tracetest.InMemoryExporter, name string) tracetest.SpanStub {
	t.Helper()
	for _, s := range exp.GetSpans() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no span %q among %d", name, len(exp.GetSpans()))
	return tracetest.SpanStub{}
}

// checkChild fails unless the span named child has the span named parent
// as its parent.
func checkChild(t *testing.T, exp *tracetest.InMemoryExporter, child, parent string) {
	t.Helper()
	c, p := span(t, exp, child), span(t, exp, parent)
	if c.Parent.TraceID() != p.SpanContext.TraceID() || c.Parent.SpanID() != p.SpanContext.SpanID() {
		t.Errorf("span %q has parent %s/%s, want %q (%s/%s)", child, c.Parent.TraceID(), c.Parent.SpanID(),
			parent, p.SpanContext.TraceID(), p.SpanContext.SpanID())
	}
}

type ctxKey struct{}

// handled is what an asynchronous handler saw of its context.
type handled struct {
	value any   // the publisher's ctxKey value
	err   error // ctx.Err() once the publisher's context was cancelled
}

// An asynchronous handler's context carries the publisher's trace context
// and values, but not its cancellation: the handler outlives the publish.
func TestAsyncCarriesContext(t *testing.T) {
	for _, tt := range []struct {
		name string
		// subscribe subscribes fn to orderCreated, asynchronously.
		subscribe func(b *eventbus.Bus, fn func(context.Context) error) (*eventbus.Subscription, error)
		publish   func(ctx context.Context, b *eventbus.Bus) error
	}{
		{
			name: "Publish",
			subscribe: func(b *eventbus.Bus, fn func(context.Context) error) (*eventbus.Subscription, error) {
				return eventbus.SubscribeAsync(b, orderCreated, func(ctx context.Context, _ order) error { return fn(ctx) })
			},
			publish: func(ctx context.Context, b *eventbus.Bus) error {
				return eventbus.Publish(ctx, b, orderCreated, order{ID: "1"})
			},
		},
		{
			name: "PublishAsync",
			subscribe: func(b *eventbus.Bus, fn func(context.Context) error) (*eventbus.Subscription, error) {
				return eventbus.SubscribeAsync(b, orderCreated, func(ctx context.Context, _ order) error { return fn(ctx) })
			},
			publish: func(ctx context.Context, b *eventbus.Bus) error {
				return eventbus.PublishAsync(ctx, b, orderCreated, order{ID: "1"})
			},
		},
		{
			name: "wildcard of another type",
			subscribe: func(b *eventbus.Bus, fn func(context.Context) error) (*eventbus.Subscription, error) {
				return eventbus.SubscribeAsync(b, eventbus.NewTopic[json.RawMessage]("orders.*"), func(ctx context.Context, _ json.RawMessage) error { return fn(ctx) })
			},
			publish: func(ctx context.Context, b *eventbus.Bus) error {
				return eventbus.PublishAsync(ctx, b, orderCreated, order{ID: "1"})
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr, exp := tracer(t)
			b := newBus(t)
			release := make(chan struct{})
			got := make(chan handled, 1)
			s, err := tt.subscribe(b, func(ctx context.Context) error {
				<-release // the publisher's context is cancelled by now
				_, sp := tr.Start(ctx, "handle")
				sp.End()
				got <- handled{value: ctx.Value(ctxKey{}), err: ctx.Err()}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.WithValue(t.Context(), ctxKey{}, "tenant-a"))
			ctx, sp := tr.Start(ctx, "publish")
			if err := tt.publish(ctx, b); err != nil {
				t.Fatal(err)
			}
			sp.End()
			cancel()
			close(release)
			h := <-got
			if h.value != "tenant-a" {
				t.Errorf("handler's ctx.Value = %v, want the publisher's tenant-a", h.value)
			}
			if h.err != nil {
				t.Errorf("handler's ctx.Err() = %v after the publisher's cancel, want nil", h.err)
			}
			if err := s.Drain(t.Context()); err != nil {
				t.Fatal(err)
			}
			checkChild(t, exp, "handle", "publish")
		})
	}
}

// Stopping an asynchronous subscription cancels its handler's context,
// with its own cause, even though the context carries the publisher's
// values; a context derived from the handler's follows it.
func TestAsyncStopCancelsCarriedContext(t *testing.T) {
	b := newBus(t)
	started := make(chan struct{})
	got := make(chan error, 2)
	s, err := eventbus.SubscribeAsync(b, orderCreated, func(ctx context.Context, _ order) error {
		child, cancel := context.WithCancel(ctx)
		defer cancel()
		close(started)
		<-child.Done()
		got <- context.Cause(ctx)
		got <- context.Cause(child)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	errPublisher := errors.New("publisher's cause")
	ctx, cancel := context.WithCancelCause(context.WithValue(t.Context(), ctxKey{}, 1))
	if err := eventbus.PublishAsync(ctx, b, orderCreated, order{}); err != nil {
		t.Fatal(err)
	}
	<-started
	cancel(errPublisher) // must not reach the handler
	s.Stop()
	<-s.Done()
	for _, what := range []string{"handler's", "derived"} {
		if err := <-got; !errors.Is(err, context.Canceled) || errors.Is(err, errPublisher) {
			t.Errorf("%s context.Cause = %v, want context.Canceled (the subscription's)", what, err)
		}
	}
}

// Across NATS, a publish injects the trace context into the message's
// headers and a remote subscription's handler extracts it, with the
// configured propagator or the global one; other context values do not
// cross.
func TestRemoteCarriesTraceContext(t *testing.T) {
	s := natstest.Embedded(t)
	nc := connect(t, "", nats.InProcessServer(s))
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "TRACED", Subjects: []string{"traced.>"}}); err != nil {
		t.Fatal(err)
	}
	core := eventbus.NewTopic[order]("traced.core")
	durable := eventbus.NewTopic[order]("traced.durable", eventbus.Durable(true))
	tc := propagation.TraceContext{}
	for _, tt := range []struct {
		name    string
		opts    []eventbus.Option // of both buses
		global  propagation.TextMapPropagator
		topic   eventbus.Topic[order]
		publish func(context.Context, *eventbus.Bus, eventbus.Topic[order], order) error
	}{
		{name: "core Publish", opts: []eventbus.Option{eventbus.WithPropagator(tc)}, topic: core, publish: eventbus.Publish[order]},
		{name: "core PublishAsync", opts: []eventbus.Option{eventbus.WithPropagator(tc)}, topic: core, publish: eventbus.PublishAsync[order]},
		{name: "durable Publish", opts: []eventbus.Option{eventbus.WithPropagator(tc)}, topic: durable, publish: eventbus.Publish[order]},
		{name: "durable PublishAsync", opts: []eventbus.Option{eventbus.WithPropagator(tc)}, topic: durable, publish: eventbus.PublishAsync[order]},
		{name: "global propagator", global: tc, topic: core, publish: eventbus.Publish[order]},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.global != nil {
				otel.SetTextMapPropagator(tt.global)
				t.Cleanup(func() { otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator()) })
			}
			tr, exp := tracer(t)
			pub := newBus(t, append(tt.opts, eventbus.WithConn(connect(t, "", nats.InProcessServer(s))))...)
			sub := newBus(t, append(tt.opts, eventbus.WithConn(connect(t, "", nats.InProcessServer(s))))...)
			got := make(chan any, 1)
			rs, err := eventbus.Subscribe(sub, tt.topic, func(ctx context.Context, _ order) error {
				_, sp := tr.Start(ctx, "handle")
				sp.End()
				got <- ctx.Value(ctxKey{})
				return nil
			}, eventbus.Remote())
			if err != nil {
				t.Fatal(err)
			}
			ctx, sp := tr.Start(context.WithValue(t.Context(), ctxKey{}, "tenant-a"), "publish")
			if err := tt.publish(ctx, pub, tt.topic, order{ID: "1"}); err != nil {
				t.Fatal(err)
			}
			sp.End()
			select {
			case v := <-got:
				if v != nil {
					t.Errorf("remote handler's ctx.Value = %v, want nil: only what the propagator carries crosses NATS", v)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("remote subscriber received nothing")
			}
			if err := rs.Drain(t.Context()); err != nil {
				t.Fatal(err)
			}
			checkChild(t, exp, "handle", "publish")
		})
	}
}

// A publish without trace context sends no headers.
func TestRemoteNoTraceNoHeaders(t *testing.T) {
	s := natstest.Embedded(t)
	nc := connect(t, "", nats.InProcessServer(s))
	msgs := make(chan *nats.Msg, 1)
	ns, err := nc.ChanSubscribe(orderCreated.Subject(), msgs)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ns.Unsubscribe() }()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	b := newBus(t, eventbus.WithConn(nc), eventbus.WithPropagator(propagation.TraceContext{}))
	if err := eventbus.Publish(t.Context(), b, orderCreated, order{ID: "1"}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-msgs:
		if len(m.Header) != 0 {
			t.Errorf("headers %v on a publish without trace context, want none", m.Header)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing received")
	}
	if _, err := eventbus.New(eventbus.WithPropagator(nil)); err == nil {
		t.Error("New(WithPropagator(nil)): no error, want one")
	}
}
