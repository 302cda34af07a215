package eventbus_test

import (
	"context"
	"testing"

	"github.com/plykit/ply/eventbus"
)

// A topic published on two buses in turn resolves its route once per bus,
// not once per publish: in steady state, a publish allocates nothing, and
// each bus delivers only to its own subscribers.
func TestTopicAlternatingBuses(t *testing.T) {
	topic := eventbus.NewTopic[order]("orders.alternating")
	buses := []*eventbus.Bus{newBus(t), newBus(t)}
	got := make([]int, len(buses))
	for i, b := range buses {
		mustSubscribe(t, b, topic, func(_ context.Context, o order) error {
			got[i] += o.Total
			return nil
		})
	}
	ctx := context.Background()
	publish := func() {
		for i, b := range buses {
			if err := eventbus.Publish(ctx, b, topic, order{Total: i + 1}); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish() // resolves the routes
	const runs = 100
	if allocs := testing.AllocsPerRun(runs, publish); allocs != 0 {
		t.Errorf("publishing on two buses in turn: %v allocs per round, want 0", allocs)
	}
	want := runs + 2 // the warm-up, AllocsPerRun's own warm-up, and the runs
	if got[0] != want || got[1] != 2*want {
		t.Errorf("bus 0 subscriber got %d, bus 1 subscriber %d; want %d and %d", got[0], got[1], want, 2*want)
	}
}
