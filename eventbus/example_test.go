package eventbus_test

import (
	"context"
	"fmt"

	"github.com/plykit/ply/eventbus"
)

type Order struct {
	ID    string
	Total int
}

var OrderPlaced = eventbus.NewTopic[Order]("orders.placed")

// Synchronous subscribers run in priority order; one may veto the event.
func ExamplePublish() {
	bus, err := eventbus.New()
	if err != nil {
		panic(err)
	}
	defer func() { _ = bus.Close(context.Background()) }()

	if _, err := eventbus.Subscribe(bus, OrderPlaced, func(_ context.Context, o Order) error {
		fmt.Println("audit", o.ID)
		return nil
	}, eventbus.WithPriority(10)); err != nil {
		panic(err)
	}
	if _, err := eventbus.Subscribe(bus, OrderPlaced, func(_ context.Context, o Order) error {
		if o.Total > 100 {
			return fmt.Errorf("order %s over the limit: %w", o.ID, eventbus.ErrVeto)
		}
		return nil
	}, eventbus.WithPriority(20)); err != nil {
		panic(err)
	}
	if _, err := eventbus.Subscribe(bus, eventbus.NewTopic[Order]("orders.*"), func(_ context.Context, o Order) error {
		fmt.Println("ship", o.ID)
		return nil
	}, eventbus.WithPriority(30)); err != nil {
		panic(err)
	}

	fmt.Println(eventbus.Publish(context.Background(), bus, OrderPlaced, Order{ID: "a1", Total: 20}))
	fmt.Println(eventbus.Publish(context.Background(), bus, OrderPlaced, Order{ID: "a2", Total: 500}))
	// Output:
	// audit a1
	// ship a1
	// <nil>
	// audit a2
	// order a2 over the limit: eventbus: vetoed
}

// An asynchronous subscriber handles events on its own goroutine; Drain
// waits until it has handled what it holds.
func ExampleSubscribeAsync() {
	bus, err := eventbus.New()
	if err != nil {
		panic(err)
	}
	defer func() { _ = bus.Close(context.Background()) }()

	sub, err := eventbus.SubscribeAsync(bus, OrderPlaced, func(_ context.Context, o Order) error {
		fmt.Println("mail for", o.ID)
		return nil
	}, eventbus.WithBuffer(16), eventbus.WithPolicy(eventbus.Block))
	if err != nil {
		panic(err)
	}
	for _, id := range []string{"b1", "b2", "b3"} {
		if err := eventbus.PublishAsync(context.Background(), bus, OrderPlaced, Order{ID: id}); err != nil {
			panic(err)
		}
	}
	if err := sub.Drain(context.Background()); err != nil {
		panic(err)
	}
	fmt.Println("dropped:", sub.Dropped())
	// Output:
	// mail for b1
	// mail for b2
	// mail for b3
	// dropped: 0
}
