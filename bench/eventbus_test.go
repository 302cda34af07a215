package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
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

// asyncBatch is how many events one iteration publishes; the iteration
// ends when every subscriber has handled them all.
const asyncBatch = 100

// BenchmarkPublishAsync compares ply's asynchronous in-process delivery
// with watermill's gochannel pub/sub, each as its user calls it. Watermill
// carries []byte, so the typed event is JSON-encoded and decoded, as a
// typed event over watermill must be (DESIGN §11: ply ≥ 10× faster).
func BenchmarkPublishAsync(b *testing.B) {
	for _, subs := range []int{1, 4} {
		b.Run(fmt.Sprintf("impl=eventbus/subs=%d", subs), func(b *testing.B) {
			bus, err := eventbus.New(eventbus.WithLogger(slog.New(slog.DiscardHandler)))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = bus.Close(context.Background()) })
			var n, target atomic.Int64
			done := make(chan struct{}, 1)
			for range subs {
				if _, err := eventbus.SubscribeAsync(bus, orderCreated, func(context.Context, order) error {
					if n.Add(1) == target.Load() {
						done <- struct{}{}
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			o := order{ID: "1", Total: 1}
			b.ReportAllocs()
			for b.Loop() {
				target.Add(asyncBatch * int64(subs))
				for range asyncBatch {
					if err := eventbus.PublishAsync(ctx, bus, orderCreated, o); err != nil {
						b.Fatal(err)
					}
				}
				<-done
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*asyncBatch), "ns/event")
		})
		b.Run(fmt.Sprintf("impl=watermill/subs=%d", subs), func(b *testing.B) {
			pubsub := gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: eventbus.DefaultBuffer}, watermill.NopLogger{})
			var n, target atomic.Int64
			done := make(chan struct{}, 1)
			finished := make(chan struct{})
			for range subs {
				msgs, err := pubsub.Subscribe(context.Background(), orderCreated.String())
				if err != nil {
					b.Fatal(err)
				}
				go func() {
					defer func() { finished <- struct{}{} }()
					for m := range msgs {
						var o order
						if err := json.Unmarshal(m.Payload, &o); err != nil {
							b.Error(err)
						}
						m.Ack()
						if n.Add(1) == target.Load() {
							done <- struct{}{}
						}
					}
				}()
			}
			o := order{ID: "1", Total: 1}
			b.ReportAllocs()
			id := 0
			for b.Loop() {
				target.Add(asyncBatch * int64(subs))
				for range asyncBatch {
					payload, err := json.Marshal(o)
					if err != nil {
						b.Fatal(err)
					}
					id++
					if err := pubsub.Publish(orderCreated.String(), message.NewMessage(strconv.Itoa(id), payload)); err != nil {
						b.Fatal(err)
					}
				}
				<-done
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*asyncBatch), "ns/event")
			if err := pubsub.Close(); err != nil {
				b.Fatal(err)
			}
			for range subs {
				<-finished
			}
		})
	}
}
