package backbone_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plykit/ply"
	"github.com/plykit/ply/backbone"
)

// A plugin that requires the backbone gets JetStream in its Provision; the
// embedded server opens no TCP port.
func Example() {
	dir, err := os.MkdirTemp("", "backbone-example")
	if err != nil {
		panic(err)
	}
	defer func() { _ = os.RemoveAll(dir) }() // best-effort cleanup of a temporary directory

	bb := backbone.New(backbone.Options{DataDir: dir})
	orders := ply.Func{
		Meta: ply.Info{Name: "orders", Version: "1.0.0", Requires: []ply.Dependency{{Name: "backbone"}}},
		OnProvision: func(ctx context.Context, s *ply.Setup) error {
			js, err := ply.Lookup(s, backbone.JetStream)
			if err != nil {
				return err
			}
			_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}})
			if err != nil {
				return err
			}
			ack, err := js.Publish(ctx, "orders.created", []byte(`{"id":1}`))
			if err != nil {
				return err
			}
			fmt.Println("stored in", ack.Stream, "at", ack.Sequence)
			return nil
		},
	}
	h, err := ply.New([]ply.Plugin{orders, bb}, ply.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := h.Start(ctx); err != nil {
		panic(err)
	}
	fmt.Println("TCP listener:", bb.Server().Addr())
	fmt.Println("health:", bb.Health(ctx))
	if err := h.Stop(ctx); err != nil {
		panic(err)
	}
	// Output:
	// stored in ORDERS at 1
	// TCP listener: <nil>
	// health: <nil>
}
