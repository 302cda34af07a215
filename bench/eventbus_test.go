package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/plykit/ply/eventbus"
)

type order struct {
	ID    string `json:"id"`
	Total int    `json:"total"`
}

var orderCreated = eventbus.NewTopic[order]("orders.created")

// subscriberCounts are the numbers of subscribers every event benchmark
// runs with.
var subscriberCounts = []int{1, 4}

// sink is the trivial work of every synchronous subscriber.
var sink int

func newBus(b *testing.B) *eventbus.Bus {
	b.Helper()
	bus, err := eventbus.New(eventbus.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = bus.Close(context.Background()) })
	return bus
}

// BenchmarkPublishSync compares synchronous delivery, as a user publishes,
// with watermill's gochannel with BlockPublishUntilSubscriberAck, which
// makes its Publish return once every subscriber has handled the message,
// the nearest it has to synchronous delivery (no veto, no error returned).
// The hand-written floor with Publish's whole contract is beside the bus,
// in eventbus's own BenchmarkPublishSync.
func BenchmarkPublishSync(b *testing.B) {
	for _, subs := range subscriberCounts {
		b.Run(fmt.Sprintf("impl=eventbus/subs=%d", subs), func(b *testing.B) {
			bus := newBus(b)
			for range subs {
				if _, err := eventbus.Subscribe(bus, orderCreated, func(_ context.Context, o order) error {
					sink += o.Total
					return nil
				}); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			o := order{ID: "1", Total: 1}
			b.ReportAllocs()
			for b.Loop() {
				if err := eventbus.Publish(ctx, bus, orderCreated, o); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("impl=watermill/subs=%d", subs), func(b *testing.B) {
			pubsub := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, watermill.NopLogger{})
			consumers := consumeWatermill(b, pubsub, subs, func(int) {})
			o := order{ID: "1", Total: 1}
			b.ReportAllocs()
			id := 0
			for b.Loop() {
				id++
				publishWatermill(b, pubsub, id, o)
			}
			b.StopTimer()
			consumers.close(b, pubsub)
		})
	}
}

// BenchmarkPublishAsync compares asynchronous delivery in steady state:
// the producer publishes one event per iteration while the subscribers
// consume, so their buffers fill and the producer waits for room
// (backpressure); an op is one event delivered to every subscriber. Beside
// it runs watermill's gochannel as its user calls it; it carries []byte,
// so the typed event is JSON-encoded and decoded, as a typed event over
// watermill must be. The raw-channel floor is beside the bus, in
// eventbus's own BenchmarkPublishAsync.
//
// Every row checks that each subscriber handled every event; the events
// still buffered when the loop ends (at most a buffer per subscriber) are
// handled after the timer stops.
func BenchmarkPublishAsync(b *testing.B) {
	for _, subs := range subscriberCounts {
		b.Run(fmt.Sprintf("impl=eventbus/subs=%d", subs), func(b *testing.B) {
			bus := newBus(b)
			counts := make([]int, subs)
			sss := make([]*eventbus.Subscription, subs)
			for i := range subs {
				s, err := eventbus.SubscribeAsync(bus, orderCreated, func(_ context.Context, o order) error {
					counts[i] += o.Total
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				sss[i] = s
			}
			ctx := context.Background()
			o := order{ID: "1", Total: 1}
			b.ReportAllocs()
			for b.Loop() {
				if err := eventbus.PublishAsync(ctx, bus, orderCreated, o); err != nil {
					b.Fatal(err)
				}
			}
			for _, s := range sss {
				if err := s.Drain(ctx); err != nil {
					b.Fatal(err)
				}
			}
			checkCounts(b, counts)
		})
		b.Run(fmt.Sprintf("impl=watermill/subs=%d", subs), func(b *testing.B) {
			pubsub := gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: eventbus.DefaultBuffer}, watermill.NopLogger{})
			var handled atomic.Int64
			wait := make(chan struct{})
			var target atomic.Int64
			target.Store(-1)
			consumers := consumeWatermill(b, pubsub, subs, func(int) {
				if handled.Add(1) == target.Load() {
					close(wait)
				}
			})
			o := order{ID: "1", Total: 1}
			b.ReportAllocs()
			id := 0
			for b.Loop() {
				id++
				publishWatermill(b, pubsub, id, o)
			}
			target.Store(int64(b.N * subs))
			if handled.Load() < int64(b.N*subs) { // else the last consumer missed the target
				<-wait
			}
			consumers.close(b, pubsub)
		})
	}
}

func checkCounts(b *testing.B, counts []int) {
	b.Helper()
	for i, n := range counts {
		if n != b.N {
			b.Fatalf("subscriber %d handled %d events, want %d", i, n, b.N)
		}
	}
}

func publishWatermill(b *testing.B, pubsub *gochannel.GoChannel, id int, o order) {
	b.Helper()
	payload, err := json.Marshal(o)
	if err != nil {
		b.Fatal(err)
	}
	if err := pubsub.Publish(orderCreated.String(), message.NewMessage(strconv.Itoa(id), payload)); err != nil {
		b.Fatal(err)
	}
}

// watermillConsumers are the goroutines of consumeWatermill.
type watermillConsumers struct{ wg sync.WaitGroup }

// consumeWatermill subscribes subs consumers that decode each message,
// ack it and call handled with the subscriber's index.
func consumeWatermill(b *testing.B, pubsub *gochannel.GoChannel, subs int, handled func(int)) *watermillConsumers {
	b.Helper()
	c := &watermillConsumers{}
	for i := range subs {
		msgs, err := pubsub.Subscribe(context.Background(), orderCreated.String())
		if err != nil {
			b.Fatal(err)
		}
		c.wg.Go(func() {
			for m := range msgs {
				var o order
				if err := json.Unmarshal(m.Payload, &o); err != nil {
					b.Error(err)
				}
				m.Ack()
				handled(i)
			}
		})
	}
	return c
}

func (c *watermillConsumers) close(b *testing.B, pubsub *gochannel.GoChannel) {
	b.Helper()
	if err := pubsub.Close(); err != nil {
		b.Fatal(err)
	}
	c.wg.Wait()
}
