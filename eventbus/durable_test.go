package eventbus_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plykit/ply/eventbus"
	"github.com/plykit/ply/internal/natstest"
)

// payment carries its own ID: publishing it twice stores it once.
type payment struct {
	Ref    string `json:"ref"`
	Amount int    `json:"amount"`
}

func (p payment) EventID() string { return "payment-" + p.Ref }

var (
	payments    = eventbus.NewTopic[payment]("ledger.payments", eventbus.Durable(true))
	ledgerOrder = eventbus.NewTopic[order]("ledger.orders", eventbus.Durable(true))
	ledgerAny   = eventbus.NewTopic[order]("ledger.*")
)

// ledger starts an embedded server with the stream LEDGER on "ledger.>"
// and returns a bus on it, the stream and a raw connection.
func ledger(t *testing.T) (*eventbus.Bus, jetstream.Stream, *nats.Conn) {
	t.Helper()
	nc := connect(t, "", nats.InProcessServer(natstest.Embedded(t)))
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	str, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "LEDGER", Subjects: []string{"ledger.>"}, Duplicates: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return newBus(t, eventbus.WithConn(nc)), str, nc
}

func stored(t *testing.T, str jetstream.Stream) []*jetstream.RawStreamMsg {
	t.Helper()
	info, err := str.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := str.GetMsg(t.Context(), seq)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// TestDurableMessageID publishes durable events twice: one with its own ID
// is stored once, under that ID; one without gets a new ID per publish.
func TestDurableMessageID(t *testing.T) {
	b, str, _ := ledger(t)
	p := payment{Ref: "42", Amount: 7}
	for range 2 {
		if err := eventbus.Publish(t.Context(), b, payments, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := eventbus.PublishAsync(t.Context(), b, payments, p); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := eventbus.Publish(t.Context(), b, ledgerOrder, order{ID: "same"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(t.Context()); err != nil { // waits for the async publish
		t.Fatal(err)
	}
	msgs := stored(t, str)
	var ids []string
	for _, m := range msgs {
		ids = append(ids, m.Subject+" "+m.Header.Get(jetstream.MsgIDHeader))
	}
	if len(msgs) != 3 || ids[0] != "ledger.payments payment-42" || ids[1] == ids[2] ||
		msgs[1].Header.Get(jetstream.MsgIDHeader) == "" || msgs[1].Subject != "ledger.orders" {
		t.Errorf("stored %q; want the payment once under its ID, then each order under an ID of its own", ids)
	}
}

// TestReplay reads a durable topic back from a sequence and from a time,
// and a wildcard topic's subjects; an event that does not decode is an
// error of its own and the replay goes on.
func TestReplay(t *testing.T) {
	b, str, nc := ledger(t)
	for i := range 3 {
		if err := eventbus.Publish(t.Context(), b, ledgerOrder, order{ID: fmt.Sprint(i), Total: i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Publish("ledger.orders", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	if err := eventbus.Publish(t.Context(), b, payments, payment{Ref: "p"}); err != nil {
		t.Fatal(err)
	}
	if err := eventbus.Publish(t.Context(), b, ledgerOrder, order{ID: "3", Total: 3}); err != nil {
		t.Fatal(err)
	}
	msgs := stored(t, str)
	if len(msgs) != 6 {
		t.Fatalf("stream holds %d messages, want 6", len(msgs))
	}
	type got struct {
		Seq uint64
		ID  string
		Err bool
	}
	replay := func(topic eventbus.Topic[order], from eventbus.Position) []got {
		t.Helper()
		var all []got
		for s, err := range eventbus.Replay(t.Context(), b, topic, from) {
			all = append(all, got{Seq: s.Sequence, ID: s.Event.ID, Err: err != nil})
		}
		return all
	}
	for _, tt := range []struct {
		name  string
		topic eventbus.Topic[order]
		from  eventbus.Position
		want  []got
	}{
		{name: "from the start", topic: ledgerOrder, from: eventbus.FromSequence(0),
			want: []got{{1, "0", false}, {2, "1", false}, {3, "2", false}, {4, "", true}, {6, "3", false}}},
		{name: "from a sequence", topic: ledgerOrder, from: eventbus.FromSequence(3),
			want: []got{{3, "2", false}, {4, "", true}, {6, "3", false}}},
		{name: "from a time", topic: ledgerOrder, from: eventbus.FromTime(msgs[5].Time),
			want: []got{{6, "3", false}}},
		{name: "past the end", topic: ledgerOrder, from: eventbus.FromSequence(7)},
		{name: "wildcard", topic: ledgerAny, from: eventbus.FromSequence(5),
			want: []got{{5, "", false}, {6, "3", false}}}, // the payment decodes into an order with no ID
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, replay(tt.topic, tt.from)); diff != "" {
				t.Errorf("replay (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("break stops", func(t *testing.T) {
		n := 0
		for _, err := range eventbus.Replay(t.Context(), b, ledgerOrder, eventbus.FromSequence(1)) {
			if err != nil {
				t.Fatal(err)
			}
			n++
			break
		}
		if n != 1 {
			t.Errorf("%d events after break, want 1", n)
		}
	})
	t.Run("no stream", func(t *testing.T) {
		for _, err := range eventbus.Replay(t.Context(), b, eventbus.NewTopic[order]("nostream.orders"), eventbus.FromSequence(1)) {
			if !errors.Is(err, jetstream.ErrStreamNotFound) {
				t.Errorf("replay without a stream: %v, want ErrStreamNotFound", err)
			}
		}
	})
	t.Run("no connection", func(t *testing.T) {
		for _, err := range eventbus.Replay(t.Context(), newBus(t), ledgerOrder, eventbus.FromSequence(1)) {
			if !errors.Is(err, eventbus.ErrNoConn) {
				t.Errorf("replay on a local bus: %v, want ErrNoConn", err)
			}
		}
	})
}

// TestOnlyServerLost kills the only NATS server of an external setup: a
// durable publish fails with ErrNotStored, while the local subscribers
// still get the event; once the server is back, durable publishes are
// stored again on the same connection.
func TestOnlyServerLost(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a nats-server process")
	}
	p := natstest.Start(t)
	reconnected := make(chan struct{}, 1)
	nc := connect(t, p.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond),
		nats.ReconnectHandler(func(*nats.Conn) { reconnected <- struct{}{} }))
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "LEDGER", Subjects: []string{"ledger.>"}}); err != nil {
		t.Fatal(err)
	}
	b := newBus(t, eventbus.WithConn(nc))
	var local []string
	if _, err := eventbus.Subscribe(b, ledgerOrder, func(_ context.Context, o order) error {
		local = append(local, o.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	p.Kill()
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	err = eventbus.Publish(ctx, b, ledgerOrder, order{ID: "down"})
	if !errors.Is(err, eventbus.ErrNotStored) {
		t.Errorf("durable publish with the server down: %v, want ErrNotStored", err)
	}
	p.Restart(t)
	<-reconnected
	if err := eventbus.Publish(t.Context(), b, ledgerOrder, order{ID: "up"}); err != nil {
		t.Errorf("durable publish after the restart: %v", err)
	}
	if diff := cmp.Diff([]string{"down", "up"}, local); diff != "" {
		t.Errorf("local deliveries (-want +got):\n%s", diff)
	}
}

// TestClusterNodeLossDurable publishes durable events to a stream with 3
// replicas, kills the server the bus is connected to half way, and reads
// the stream back: every event is stored, once, in publish order.
func TestClusterNodeLossDurable(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	procs := natstest.StartCluster(t, 3)
	var urls []string
	for _, p := range procs {
		urls = append(urls, p.URL())
	}
	nc := connect(t, strings.Join(urls, ","), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	natstest.CreateStream(t, js, jetstream.StreamConfig{Name: "LEDGER", Subjects: []string{"ledger.>"}, Replicas: 3})
	b := newBus(t, eventbus.WithConn(nc))
	var want []string
	for i := range 40 {
		if i == 20 {
			i := slices.IndexFunc(procs, func(p *natstest.Proc) bool { return p.URL() == nc.ConnectedUrl() })
			procs[i].Kill() // the connection moves to another server
		}
		ctx, cancel := context.WithTimeout(t.Context(), natstest.ReadyTimeout)
		err := eventbus.Publish(ctx, b, payments, payment{Ref: fmt.Sprint(i)})
		cancel()
		if err != nil {
			t.Fatalf("durable publish %d, one server of 3 lost: %v", i, err)
		}
		want = append(want, fmt.Sprint(i))
	}
	var got []string
	// Like the publishes, the replay waits out the cluster's election for as
	// long as its context allows (without a deadline, 5 s: not enough on a
	// loaded machine).
	ctx, cancel := context.WithTimeout(t.Context(), natstest.ReadyTimeout)
	defer cancel()
	for s, err := range eventbus.Replay(ctx, b, payments, eventbus.FromSequence(1)) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, s.Event.Ref)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored events (-want +got):\n%s", diff)
	}
}

// TestFanOutToEveryHost runs three "hosts", each a bus on its own
// connection with a remote subscription, and a publisher: every host
// receives every event, durable or not (no queue group: events fan out).
func TestFanOutToEveryHost(t *testing.T) {
	s := natstest.Embedded(t)
	pub := connect(t, "", nats.InProcessServer(s))
	js, err := jetstream.New(pub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "LEDGER", Subjects: []string{"ledger.>"}}); err != nil {
		t.Fatal(err)
	}
	a := newBus(t, eventbus.WithConn(pub))
	inboxes := make([]*inbox, 3)
	for i := range inboxes {
		inboxes[i] = &inbox{}
		b := newBus(t, eventbus.WithConn(connect(t, "", nats.InProcessServer(s))))
		if _, err := eventbus.Subscribe(b, ledgerAny, inboxes[i].handle, eventbus.Remote()); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	for i := range 10 {
		if err := eventbus.Publish(t.Context(), a, ledgerOrder, order{ID: fmt.Sprint("d", i)}); err != nil {
			t.Fatal(err)
		}
		if err := eventbus.Publish(t.Context(), a, orderCreatedLedger, order{ID: fmt.Sprint("c", i)}); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprint("c", i), fmt.Sprint("d", i))
	}
	slices.Sort(want)
	eventually(t, 10*time.Second, "every host gets every event", func() error {
		for i, in := range inboxes {
			if !in.has(len(want)) {
				return fmt.Errorf("host %d has %d events of %d", i, len(in.sorted()), len(want))
			}
		}
		return nil
	})
	for i, in := range inboxes {
		if diff := cmp.Diff(want, in.sorted()); diff != "" {
			t.Errorf("host %d (-want +got):\n%s", i, diff)
		}
	}
}

var orderCreatedLedger = eventbus.NewTopic[order]("ledger.created") // not durable: core NATS
