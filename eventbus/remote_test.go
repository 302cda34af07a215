package eventbus_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/plykit/ply/eventbus"
	"github.com/plykit/ply/internal/natstest"
)

func connect(t *testing.T, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// testRemote checks delivery between two buses, each on its own connection.
func testRemote(t *testing.T, ncA, ncB *nats.Conn) {
	t.Helper()
	a := newBus(t, eventbus.WithConn(ncA))
	b := newBus(t, eventbus.WithConn(ncB))
	got := make(chan string, 10)
	sub, err := eventbus.Subscribe(b, ordersAny, func(_ context.Context, o order) error {
		got <- o.ID
		return nil
	}, eventbus.Remote())
	if err != nil {
		t.Fatal(err)
	}
	var local []string
	mustSubscribe(t, a, orderCreated, func(_ context.Context, o order) error {
		local = append(local, o.ID)
		return nil
	})
	for _, id := range []string{"1", "2", "3"} {
		if err := eventbus.Publish(t.Context(), a, orderCreated, order{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if err := eventbus.PublishAsync(t.Context(), a, orderDeleted, order{ID: "4"}); err != nil {
		t.Fatal(err)
	}
	var remote []string
	for range 4 {
		select {
		case id := <-got:
			remote = append(remote, id)
		case <-time.After(10 * time.Second):
			t.Fatalf("remote subscriber got %v, then nothing", remote)
		}
	}
	if diff := cmp.Diff([]string{"1", "2", "3", "4"}, remote); diff != "" {
		t.Errorf("remote delivery (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"1", "2", "3"}, local); diff != "" {
		t.Errorf("local delivery (-want +got):\n%s", diff)
	}
	if err := sub.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := sub.Dropped(); n != 0 {
		t.Errorf("Dropped() = %d, want 0", n)
	}
}

func TestRemoteEmbedded(t *testing.T) {
	s := natstest.Embedded(t)
	testRemote(t, connect(t, "", nats.InProcessServer(s)), connect(t, "", nats.InProcessServer(s)))
}

func TestRemoteServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a nats-server process")
	}
	url := natstest.Server(t)
	testRemote(t, connect(t, url), connect(t, url))
}

// Durable topics go through JetStream: Publish returns once a stream has
// stored the event, and fails when none holds the subject.
func TestDurable(t *testing.T) {
	s := natstest.Embedded(t)
	nc := connect(t, "", nats.InProcessServer(s))
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	str, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "AUDIT", Subjects: []string{"audit.>"}})
	if err != nil {
		t.Fatal(err)
	}
	b := newBus(t, eventbus.WithConn(nc))
	audit := eventbus.NewTopic[order]("audit.orders", eventbus.Durable(true))
	for i := range 3 {
		if err := eventbus.Publish(t.Context(), b, audit, order{ID: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := eventbus.PublishAsync(t.Context(), b, audit, order{ID: "async"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(t.Context()); err != nil { // waits for the async publish
		t.Fatal(err)
	}
	info, err := str.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 4 {
		t.Errorf("stream holds %d events, want 4", info.State.Msgs)
	}
	b2 := newBus(t, eventbus.WithConn(nc))
	nowhere := eventbus.NewTopic[order]("nostream.orders", eventbus.Durable(true))
	if err := eventbus.Publish(t.Context(), b2, nowhere, order{}); !errors.Is(err, jetstream.ErrNoStreamResponse) {
		t.Errorf("durable Publish without a stream = %v, want jetstream.ErrNoStreamResponse", err)
	}
}

// A remote subscription whose buffer is full loses messages, and says so.
func TestRemoteSlowConsumer(t *testing.T) {
	s := natstest.Embedded(t)
	nc := connect(t, "", nats.InProcessServer(s), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	b := newBus(t, eventbus.WithConn(nc))
	release := make(chan struct{})
	sub, err := eventbus.Subscribe(b, orderCreated, func(ctx context.Context, _ order) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}, eventbus.Remote(), eventbus.WithBuffer(1))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := eventbus.PublishAsync(t.Context(), b, orderCreated, order{ID: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for sub.Dropped() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // polling: the drops happen on the connection's goroutine
	}
	if sub.Dropped() == 0 {
		t.Error("Dropped() = 0 after overrunning a buffer of 1")
	}
	close(release)
	sub.Stop()
	<-sub.Done()
}
