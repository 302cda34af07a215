package stream_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/plykit/ply/internal/natstest"
	"github.com/plykit/ply/stream"
)

type point struct{ X, Y int }

func setup(t *testing.T) (jetstream.JetStream, jetstream.Consumer) {
	t.Helper()
	nc, err := nats.Connect("", nats.InProcessServer(natstest.Embedded(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "POINTS", Subjects: []string{"points"}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.CreateConsumer(t.Context(), jetstream.ConsumerConfig{
		Durable: "reader", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return js, c
}

func points(n int) []point {
	out := make([]point, n)
	for i := range out {
		out[i] = point{i, -i}
	}
	return out
}

// Values go out through ToNATS and come back through FromNATS, in order.
func TestNATSRoundTrip(t *testing.T) {
	js, c := setup(t)
	const total = 100
	want := points(total)
	src := stream.New(t.Context(), 8, func(_ context.Context, emit func(point) error) error {
		for _, p := range want {
			if err := emit(p); err != nil {
				return err
			}
		}
		return nil
	})
	n, err := stream.ToNATS(t.Context(), js, "points", src, 16)
	if err != nil || n != len(want) {
		t.Fatalf("ToNATS = %d, %v; want %d, nil", n, err, len(want))
	}
	var got []point
	for p, err := range stream.FromNATS[point](t.Context(), c, 10) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p)
		if len(got) == len(want) {
			break
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// All were acknowledged but the last, handed back when the loop broke.
	// Acknowledgements are asynchronous: poll.
	var floor uint64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		info, err := c.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if floor = info.AckFloor.Stream; floor >= total-1 {
			break
		}
	}
	if floor != total-1 {
		t.Errorf("ack floor = %d, want %d", floor, total-1)
	}
}

// The value in hand when the loop breaks is redelivered at once. JetStream
// orders a redelivery and a first delivery as it likes, so the next reader
// gets both, in either order.
func TestFromNATSBreakRedelivers(t *testing.T) {
	js, c := setup(t)
	if _, err := stream.ToNATS(t.Context(), js, "points", stream.New(t.Context(), 0, func(_ context.Context, emit func(point) error) error {
		return errors.Join(emit(point{1, 1}), emit(point{2, 2}))
	}), 1); err != nil {
		t.Fatal(err)
	}
	for p, err := range stream.FromNATS[point](t.Context(), c, 1) {
		if err != nil {
			t.Fatal(err)
		}
		if p.X == 1 {
			break
		}
	}
	var got []point
	for p, err := range stream.FromNATS[point](t.Context(), c, 1) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p)
		if len(got) == 2 {
			break
		}
	}
	byX := cmpopts.SortSlices(func(a, b point) bool { return a.X < b.X })
	if diff := cmp.Diff([]point{{1, 1}, {2, 2}}, got, byX); diff != "" {
		t.Errorf("after a break (-want +got):\n%s", diff)
	}
}

func TestFromNATSErrors(t *testing.T) {
	js, c := setup(t)
	if _, err := js.Publish(t.Context(), "points", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	var last error
	for _, err := range stream.FromNATS[point](t.Context(), c, 4) {
		last = err
	}
	if !errors.Is(last, stream.ErrDecode) {
		t.Errorf("last error = %v, want ErrDecode", last)
	}
	if _, ok := errors.AsType[*json.SyntaxError](last); !ok {
		t.Errorf("last error = %v, want it to wrap the decoder's *json.SyntaxError", last)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, err := range stream.FromNATS[point](ctx, c, 4) {
		last = err
	}
	if !errors.Is(last, context.Canceled) {
		t.Errorf("cancelled: last error = %v, want context.Canceled", last)
	}
}

// A source's error stops ToNATS and is returned as is; a value that does
// not encode stops it with the encoder's error.
func TestToNATSSourceError(t *testing.T) {
	js, _ := setup(t)
	errSrc := errors.New("source broke")
	n, err := stream.ToNATS(t.Context(), js, "points", stream.New(t.Context(), 0, func(_ context.Context, emit func(point) error) error {
		if err := emit(point{}); err != nil {
			return err
		}
		return errSrc
	}), 4)
	if !errors.Is(err, errSrc) {
		t.Errorf("ToNATS = %d, %v; want the source's error", n, err)
	}
	_, err = stream.ToNATS(t.Context(), js, "points", stream.New(t.Context(), 0, func(_ context.Context, emit func(chan int) error) error {
		return emit(make(chan int))
	}), 1)
	if _, ok := errors.AsType[*json.UnsupportedTypeError](err); !ok {
		t.Errorf("ToNATS of a chan = %v, want it to wrap the encoder's *json.UnsupportedTypeError", err)
	}
	if _, err := stream.ToNATS(t.Context(), js, "nostream", stream.New(t.Context(), 0, func(_ context.Context, emit func(point) error) error {
		return emit(point{})
	}), 1); err == nil {
		t.Error("ToNATS to a subject no stream holds: no error")
	}
}
