package eventbus_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"
	"github.com/plykit/ply"
	"github.com/plykit/ply/eventbus"
)

type order struct {
	ID    string `json:"id"`
	Total int    `json:"total"`
}

var (
	orderCreated = eventbus.NewTopic[order]("orders.created")
	orderDeleted = eventbus.NewTopic[order]("orders.deleted")
	ordersAny    = eventbus.NewTopic[order]("orders.*")
	ordersAll    = eventbus.NewTopic[order]("orders.>")
)

func newBus(t testing.TB, opts ...eventbus.Option) *eventbus.Bus {
	t.Helper()
	opts = append([]eventbus.Option{eventbus.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	b, err := eventbus.New(opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

func mustSubscribe[T any](t *testing.T, b *eventbus.Bus, topic eventbus.Topic[T], fn func(context.Context, T) error, opts ...eventbus.SubscribeOption) *eventbus.Subscription {
	t.Helper()
	s, err := eventbus.Subscribe(b, topic, fn, opts...)
	if err != nil {
		t.Fatalf("Subscribe(%s): %v", topic, err)
	}
	return s
}

// recorder appends labels, safe for concurrent use.
type recorder struct {
	mu  sync.Mutex
	got []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, s)
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

func (r *recorder) sub(label string, err error) func(context.Context, order) error {
	return func(context.Context, order) error {
		r.add(label)
		return err
	}
}

func TestPublishOrder(t *testing.T) {
	b := newBus(t)
	var rec recorder
	mustSubscribe(t, b, orderCreated, rec.sub("business-1", nil), eventbus.WithPriority(ply.Business))
	mustSubscribe(t, b, orderCreated, rec.sub("logging", nil), eventbus.WithPriority(ply.Logging))
	mustSubscribe(t, b, ordersAll, rec.sub("wild-system", nil), eventbus.WithPriority(ply.System))
	mustSubscribe(t, b, orderCreated, rec.sub("business-2", nil), eventbus.WithPriority(ply.Business))
	mustSubscribe(t, b, orderDeleted, rec.sub("deleted", nil))
	mustSubscribe(t, b, orderCreated, rec.sub("late", nil), eventbus.WithPriority(ply.Performance))

	if err := eventbus.Publish(t.Context(), b, orderCreated, order{ID: "1"}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	want := []string{"wild-system", "logging", "business-1", "business-2", "late"}
	if diff := cmp.Diff(want, rec.list()); diff != "" {
		t.Errorf("delivery order (-want +got):\n%s", diff)
	}
}

func TestPublishVeto(t *testing.T) {
	b := newBus(t)
	var rec recorder
	errEarly := errors.New("early")
	veto := fmt.Errorf("no stock: %w", eventbus.ErrVeto)
	mustSubscribe(t, b, orderCreated, rec.sub("first", errEarly), eventbus.WithPriority(1))
	mustSubscribe(t, b, orderCreated, rec.sub("veto", veto), eventbus.WithPriority(2))
	mustSubscribe(t, b, orderCreated, rec.sub("never", nil), eventbus.WithPriority(3))
	async, err := eventbus.SubscribeAsync(b, orderCreated, rec.sub("async", nil))
	if err != nil {
		t.Fatal(err)
	}

	err = eventbus.Publish(t.Context(), b, orderCreated, order{ID: "1"})
	if !errors.Is(err, eventbus.ErrVeto) || !errors.Is(err, errEarly) {
		t.Fatalf("Publish = %v, want ErrVeto joined with the earlier error", err)
	}
	if err := async.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"first", "veto"}, rec.list()); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
}

func TestPublishErrorsJoined(t *testing.T) {
	b := newBus(t)
	var rec recorder
	e1, e2 := errors.New("one"), errors.New("two")
	mustSubscribe(t, b, orderCreated, rec.sub("a", e1))
	mustSubscribe(t, b, orderCreated, rec.sub("b", nil))
	mustSubscribe(t, b, orderCreated, rec.sub("c", e2))

	err := eventbus.Publish(t.Context(), b, orderCreated, order{})
	if !errors.Is(err, e1) || !errors.Is(err, e2) {
		t.Fatalf("Publish = %v, want both errors", err)
	}
	if diff := cmp.Diff([]string{"a", "b", "c"}, rec.list()); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
}

func TestPublishPanicContained(t *testing.T) {
	b := newBus(t)
	var rec recorder
	mustSubscribe(t, b, orderCreated, rec.sub("before", nil))
	mustSubscribe(t, b, orderCreated, func(context.Context, order) error { panic("boom") })
	mustSubscribe(t, b, orderCreated, func(context.Context, order) error { panic("again") })
	mustSubscribe(t, b, orderCreated, rec.sub("after", nil))

	err := eventbus.Publish(t.Context(), b, orderCreated, order{})
	pe, ok := errors.AsType[*ply.PanicError](err)
	if !ok {
		t.Fatalf("Publish = %v, want a *ply.PanicError", err)
	}
	if pe.Value != "boom" || len(pe.Stack) == 0 {
		t.Errorf("PanicError = %v with %d bytes of stack, want boom and a stack", pe.Value, len(pe.Stack))
	}
	if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != 2 {
		t.Errorf("Publish returned %d errors, want 2 (one per panic): %v", n, err)
	}
	if diff := cmp.Diff([]string{"before", "after"}, rec.list()); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
}

// A wildcard subscriber of another type receives events converted through
// JSON.
func TestWildcardOtherType(t *testing.T) {
	b := newBus(t)
	type idOnly struct {
		ID string `json:"id"`
	}
	var got []idOnly
	mustSubscribe(t, b, eventbus.NewTopic[idOnly]("orders.>"), func(_ context.Context, v idOnly) error {
		got = append(got, v)
		return nil
	})
	mustSubscribe(t, b, ordersAny, func(context.Context, order) error { return nil })
	for _, id := range []string{"1", "2"} {
		if err := eventbus.Publish(t.Context(), b, orderCreated, order{ID: id, Total: 3}); err != nil {
			t.Fatal(err)
		}
	}
	if err := eventbus.Publish(t.Context(), b, eventbus.NewTopic[string]("orders.note"), "not an object"); err == nil {
		t.Error("Publish of a string to an idOnly subscriber: no decode error")
	}
	if diff := cmp.Diff([]idOnly{{"1"}, {"2"}}, got); diff != "" {
		t.Errorf("received (-want +got):\n%s", diff)
	}
}

func TestPublishErrors(t *testing.T) {
	b := newBus(t)
	if err := eventbus.Publish(t.Context(), b, ordersAny, order{}); !errors.Is(err, eventbus.ErrWildcard) {
		t.Errorf("Publish(wildcard) = %v, want ErrWildcard", err)
	}
	if err := eventbus.Publish(t.Context(), b, eventbus.Topic[order]{}, order{}); !errors.Is(err, eventbus.ErrZeroTopic) {
		t.Errorf("Publish(zero topic) = %v, want ErrZeroTopic", err)
	}
	if _, err := eventbus.Subscribe(b, orderCreated, func(context.Context, order) error { return nil }, eventbus.Remote()); !errors.Is(err, eventbus.ErrNoConn) {
		t.Errorf("Subscribe(Remote) on a local bus = %v, want ErrNoConn", err)
	}
	if _, err := eventbus.Subscribe(b, orderCreated, func(context.Context, order) error { return nil }, eventbus.WithBuffer(3)); err == nil {
		t.Error("Subscribe(WithBuffer): no error, want one (synchronous subscribers have no buffer)")
	}
	if err := b.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := eventbus.Publish(t.Context(), b, orderCreated, order{}); !errors.Is(err, eventbus.ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
}

func TestStopSync(t *testing.T) {
	b := newBus(t)
	var rec recorder
	s := mustSubscribe(t, b, orderCreated, rec.sub("x", nil))
	_ = eventbus.Publish(t.Context(), b, orderCreated, order{})
	s.Stop()
	<-s.Done()
	_ = eventbus.Publish(t.Context(), b, orderCreated, order{})
	if diff := cmp.Diff([]string{"x"}, rec.list()); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
}

// A slow asynchronous subscriber does not hold up a fast one, nor the
// publisher while its buffer has room.
func TestAsyncSlowSubscriber(t *testing.T) {
	b := newBus(t)
	release := make(chan struct{})
	slow, err := eventbus.SubscribeAsync(b, orderCreated, func(_ context.Context, _ order) error {
		<-release
		return nil
	}, eventbus.WithBuffer(10))
	if err != nil {
		t.Fatal(err)
	}
	fastGot := make(chan string, 10)
	fast, err := eventbus.SubscribeAsync(b, orderCreated, func(_ context.Context, o order) error {
		fastGot <- o.ID
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := eventbus.Publish(t.Context(), b, orderCreated, order{ID: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for range 5 {
		got = append(got, <-fastGot) // arrives while slow is stuck on its first event
	}
	if diff := cmp.Diff([]string{"0", "1", "2", "3", "4"}, got); diff != "" {
		t.Errorf("fast subscriber got (-want +got):\n%s", diff)
	}
	close(release)
	for _, s := range []*eventbus.Subscription{slow, fast} {
		if err := s.Drain(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAsyncPolicies(t *testing.T) {
	for _, tt := range []struct {
		policy      eventbus.Policy
		want        []string
		wantDropped uint64
		wantErr     error
	}{
		{policy: eventbus.DropNewest, want: []string{"0", "1", "2"}, wantDropped: 2},
		{policy: eventbus.DropOldest, want: []string{"0", "3", "4"}, wantDropped: 2},
		{policy: eventbus.Block, want: []string{"0", "1", "2"}, wantDropped: 2, wantErr: eventbus.ErrDropped},
	} {
		t.Run(tt.policy.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newBus(t)
				var rec recorder
				started, release := make(chan struct{}), make(chan struct{})
				s, err := eventbus.SubscribeAsync(b, orderCreated, func(_ context.Context, o order) error {
					rec.add(o.ID)
					if o.ID == "0" {
						close(started)
						<-release
					}
					return nil
				}, eventbus.WithBuffer(2), eventbus.WithPolicy(tt.policy))
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(t.Context())
				cancel() // under Block, a full buffer fails at once
				for i := range 5 {
					err := eventbus.Publish(ctx, b, orderCreated, order{ID: fmt.Sprint(i)})
					if i == 0 {
						<-started // "0" is being handled: the buffer is empty
					}
					if i >= 3 && tt.wantErr != nil {
						if !errors.Is(err, tt.wantErr) {
							t.Errorf("Publish(%d) = %v, want %v", i, err, tt.wantErr)
						}
					} else if err != nil {
						t.Errorf("Publish(%d) = %v", i, err)
					}
				}
				if got := s.Dropped(); got != tt.wantDropped {
					t.Errorf("Dropped() = %d, want %d", got, tt.wantDropped)
				}
				close(release)
				if err := s.Drain(t.Context()); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, rec.list()); diff != "" {
					t.Errorf("handled (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// Under Block, a publisher waits for room, and goes on once the subscriber
// catches up.
func TestAsyncBlockWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBus(t)
		release := make(chan struct{})
		var rec recorder
		s, err := eventbus.SubscribeAsync(b, orderCreated, func(_ context.Context, o order) error {
			<-release
			rec.add(o.ID)
			return nil
		}, eventbus.WithBuffer(1))
		if err != nil {
			t.Fatal(err)
		}
		published := make(chan int, 1) // published count, sent once at the end
		go func() {
			for i := range 4 {
				if err := eventbus.Publish(t.Context(), b, orderCreated, order{ID: fmt.Sprint(i)}); err != nil {
					t.Error(err)
				}
			}
			published <- 4
		}()
		synctest.Wait() // the publisher is blocked: 1 in the handler, 1 buffered
		select {
		case <-published:
			t.Fatal("publisher ran past a full buffer under Block")
		default:
		}
		close(release)
		<-published
		if err := s.Drain(t.Context()); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"0", "1", "2", "3"}, rec.list()); diff != "" {
			t.Errorf("handled (-want +got):\n%s", diff)
		}
	})
}

func TestAsyncDrainAndStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBus(t)
		var rec recorder
		gate := make(chan struct{})
		mk := func(label string) *eventbus.Subscription {
			s, err := eventbus.SubscribeAsync(b, orderCreated, func(_ context.Context, o order) error {
				<-gate
				rec.add(label + o.ID)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		drained, stopped := mk("d"), mk("s")
		for i := range 3 {
			if err := eventbus.Publish(t.Context(), b, orderCreated, order{ID: fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait() // both handlers hold event 0, 1 and 2 are buffered
		stopped.Stop()
		drainErr := make(chan error, 1)
		go func() { drainErr <- drained.Drain(context.Background()) }()
		close(gate)
		if err := <-drainErr; err != nil {
			t.Fatal(err)
		}
		<-stopped.Done()
		if err := eventbus.Publish(t.Context(), b, orderCreated, order{ID: "late"}); err != nil {
			t.Fatal(err)
		}
		got := rec.list()
		want := []string{"d0", "d1", "d2", "s0"}
		if diff := cmp.Diff(want, slices.Sorted(slices.Values(got))); diff != "" {
			t.Errorf("handled (-want +got):\n%s", diff)
		}
	})
}

func TestAsyncPanicLogged(t *testing.T) {
	b := newBus(t)
	handled := make(chan struct{})
	s, err := eventbus.SubscribeAsync(b, orderCreated, func(_ context.Context, o order) error {
		if o.ID == "panic" {
			panic("boom")
		}
		close(handled)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"panic", "ok"} {
		if err := eventbus.PublishAsync(t.Context(), b, orderCreated, order{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	<-handled // the goroutine survived the panic
	if err := s.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// An event that a subscriber of another type cannot receive keeps the
// encoding error as its cause, for errors.As.
func TestConversionErrorKeepsItsCause(t *testing.T) {
	b := newBus(t)
	type raw map[string]any
	mustSubscribe(t, b, eventbus.NewTopic[raw]("jobs.*"), func(context.Context, raw) error { return nil })
	err := eventbus.Publish(t.Context(), b, eventbus.NewTopic[chan int]("jobs.created"), make(chan int))
	if _, ok := errors.AsType[*json.UnsupportedTypeError](err); !ok {
		t.Fatalf("Publish(chan) to a subscriber of another type = %v, want a *json.UnsupportedTypeError inside", err)
	}
}
