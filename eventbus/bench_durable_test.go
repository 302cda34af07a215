package eventbus_test

import (
	"encoding/json"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/plykit/ply/eventbus"
	"github.com/plykit/ply/internal/natstest"
)

// BenchmarkPublishDurable compares a durable Publish (JSON, trace
// headers, a message ID, the stream's acknowledgement) with bare nats.go
// doing the same on the same embedded server: encoding the event to JSON
// and publishing it through JetStream with a unique message ID, waiting
// for the acknowledgement. The ratio is what the bus adds.
func BenchmarkPublishDurable(b *testing.B) {
	s := natstest.Embedded(b)
	nc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := js.CreateStream(b.Context(), jetstream.StreamConfig{Name: "BENCH", Subjects: []string{"bench.>"}, Storage: jetstream.MemoryStorage}); err != nil {
		b.Fatal(err)
	}
	topic := eventbus.NewTopic[order]("bench.orders", eventbus.Durable(true))
	v := order{ID: "o-1", Total: 42}
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			data, err := json.Marshal(v)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := js.PublishMsg(b.Context(), &nats.Msg{Subject: "bench.orders", Data: data}, jetstream.WithMsgID(nuid.Next())); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ply", func(b *testing.B) {
		bus := newBus(b, eventbus.WithConn(nc))
		b.ReportAllocs()
		for b.Loop() {
			if err := eventbus.Publish(b.Context(), bus, topic, v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
