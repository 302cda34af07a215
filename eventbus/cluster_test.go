package eventbus_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/plykit/ply/eventbus"
	"github.com/plykit/ply/internal/natstest"
)

// probeID marks the events that wait for a subscription to reach every
// server of a cluster; the assertions ignore them.
const probeID = "probe"

// inbox records what a remote subscription receives. Its methods are safe
// for concurrent use.
type inbox struct {
	mu     sync.Mutex
	ids    []string // every event but the probes, in arrival order
	probed bool
}

func (in *inbox) handle(_ context.Context, o order) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if o.ID == probeID {
		in.probed = true
	} else {
		in.ids = append(in.ids, o.ID)
	}
	return nil
}

func (in *inbox) hasProbe() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.probed
}

func (in *inbox) has(n int) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.ids) >= n
}

// sorted returns the IDs received, sorted: the bus promises no order for
// remote subscriptions.
func (in *inbox) sorted() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Sorted(slices.Values(in.ids))
}

// eventually calls try until it returns nil, every few milliseconds, and
// fails the test with try's last error if that takes longer than d.
func eventually(t *testing.T, d time.Duration, what string, try func() error) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond) // polling interval, not synchronisation
	defer tick.Stop()
	for {
		err := try()
		if err == nil {
			return
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("after %v, %s: %v", d, what, err)
		}
	}
}

// TestCluster runs two buses on different servers of a 3-server cluster:
// the events one publishes reach the remote subscriptions, exact and
// wildcard, of the other, each exactly once; a durable publish to a stream
// replicated on the 3 servers is acknowledged.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	const n = 50
	urls := natstest.Cluster(t, 3)
	ncA, ncB := connect(t, urls[0]), connect(t, urls[1])
	if ncA.ConnectedServerId() == ncB.ConnectedServerId() {
		t.Fatalf("both connections on server %s, want two servers", ncA.ConnectedServerId())
	}
	a := newBus(t, eventbus.WithConn(ncA))
	b := newBus(t, eventbus.WithConn(ncB))

	exact, wild := &inbox{}, &inbox{}
	subExact, err := eventbus.Subscribe(b, orderCreated, exact.handle, eventbus.Remote())
	if err != nil {
		t.Fatal(err)
	}
	subWild, err := eventbus.Subscribe(b, ordersAll, wild.handle, eventbus.Remote())
	if err != nil {
		t.Fatal(err)
	}
	// Subscribe returns once B's server knows the subscriptions; A's server
	// learns of them over the cluster route, later. Until then, A's events
	// reach no one.
	eventually(t, 20*time.Second, "subscribe across the cluster", func() error {
		if err := eventbus.Publish(t.Context(), a, orderCreated, order{ID: probeID}); err != nil {
			t.Fatalf("publish probe: %v", err)
		}
		if !exact.hasProbe() || !wild.hasProbe() {
			return errors.New("no probe received")
		}
		return nil
	})

	var wantExact, wantWild []string
	for i := range n {
		created, deleted := fmt.Sprint("c", i), fmt.Sprint("d", i)
		if err := eventbus.Publish(t.Context(), a, orderCreated, order{ID: created}); err != nil {
			t.Fatal(err)
		}
		if err := eventbus.PublishAsync(t.Context(), a, orderDeleted, order{ID: deleted}); err != nil {
			t.Fatal(err)
		}
		wantExact = append(wantExact, created)
		wantWild = append(wantWild, created, deleted)
	}
	eventually(t, 20*time.Second, "deliver across the cluster", func() error {
		if !exact.has(len(wantExact)) || !wild.has(len(wantWild)) {
			return errors.New("events lost")
		}
		return nil
	})
	for _, s := range []*eventbus.Subscription{subExact, subWild} {
		if err := s.Drain(t.Context()); err != nil { // handles what is still in flight, duplicates too
			t.Fatal(err)
		}
		if d := s.Dropped(); d != 0 {
			t.Errorf("%s: Dropped() = %d, want 0", s.Subject(), d)
		}
	}
	slices.Sort(wantExact)
	slices.Sort(wantWild)
	if diff := cmp.Diff(wantExact, exact.sorted()); diff != "" {
		t.Errorf("exact subscription across the cluster (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantWild, wild.sorted()); diff != "" {
		t.Errorf("wildcard subscription across the cluster (-want +got):\n%s", diff)
	}

	// The bus has no say in streams: the wiring creates them, here
	// replicated on the 3 servers.
	js, err := jetstream.New(ncA)
	if err != nil {
		t.Fatal(err)
	}
	str := natstest.CreateStream(t, js, jetstream.StreamConfig{Name: "AUDIT", Subjects: []string{"audit.>"}, Replicas: 3})
	// A's server reaches the stream once it learnt of the stream leader's
	// interest in audit.>; until then a publish finds no responders, which
	// the client retries, here until the probe is stored.
	settled := []jetstream.PublishOpt{jetstream.WithRetryAttempts(400), jetstream.WithRetryWait(50 * time.Millisecond)}
	if _, err := js.Publish(t.Context(), "audit.probe", nil, settled...); err != nil {
		t.Fatalf("probe the stream: %v", err)
	}
	audit := eventbus.NewTopic[order]("audit.orders", eventbus.Durable(true))
	for i := range n {
		if err := eventbus.Publish(t.Context(), a, audit, order{ID: fmt.Sprint("a", i)}); err != nil {
			t.Fatalf("durable Publish %d: %v", i, err)
		}
	}
	info, err := str.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := info.State.Msgs, uint64(n+1); got != want { // the events and the probe
		t.Errorf("stream holds %d messages, want %d", got, want)
	}
	if info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Errorf("stream cluster = %+v, want a leader and 2 replicas", info.Cluster)
	}
}
