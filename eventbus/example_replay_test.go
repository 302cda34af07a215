package eventbus_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plykit/ply/eventbus"
)

// Invoice carries its own ID: published twice, it is stored once.
type Invoice struct {
	Number string
	Amount int
}

func (i Invoice) EventID() string { return "invoice-" + i.Number }

var Invoices = eventbus.NewTopic[Invoice]("billing.invoices", eventbus.Durable(true))

// A durable topic's events are read back from a sequence (or a time); an
// event published twice under its ID is stored once.
func ExampleReplay() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "example-replay-")
	if err != nil {
		panic(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	srv, err := server.NewServer(&server.Options{JetStream: true, StoreDir: dir, DontListen: true, NoSigs: true})
	if err != nil {
		panic(err)
	}
	srv.Start()
	defer srv.Shutdown()
	if !srv.ReadyForConnections(10 * time.Second) {
		panic("nats-server not ready")
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		panic(err)
	}
	// Creating the stream is the wiring's job.
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "BILLING", Subjects: []string{"billing.>"}}); err != nil {
		panic(err)
	}
	bus, err := eventbus.New(eventbus.WithConn(nc))
	if err != nil {
		panic(err)
	}
	defer func() { _ = bus.Close(ctx) }()

	for _, inv := range []Invoice{{"1", 10}, {"2", 20}, {"2", 20}, {"3", 30}} { // "2" twice: a retry
		if err := eventbus.Publish(ctx, bus, Invoices, inv); err != nil {
			panic(err)
		}
	}
	for s, err := range eventbus.Replay(ctx, bus, Invoices, eventbus.FromSequence(2)) {
		if err != nil {
			panic(err)
		}
		fmt.Println(s.Sequence, s.ID, s.Event.Amount)
	}
	// Output:
	// 2 invoice-2 20
	// 3 invoice-3 30
}
