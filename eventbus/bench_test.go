package eventbus_test

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/plykit/ply"
	"github.com/plykit/ply/eventbus"
)

var sink int

// subscriberCounts are the numbers of subscribers every benchmark runs with.
var subscriberCounts = []int{1, 4}

// BenchmarkPublishSync compares synchronous delivery with a hand-written
// copy-on-write slice of handlers that keeps Publish's contract (a
// context, errors collected, a veto, a panic recovered and delivery
// resumed): the ratio is what the bus adds to the work its contract
// requires. The comparison with watermill is in the bench module
// (../bench), which keeps the peer out of ply's go.mod.
func BenchmarkPublishSync(b *testing.B) {
	for _, subs := range subscriberCounts {
		b.Run(fmt.Sprintf("impl=eventbus/subs=%d", subs), func(b *testing.B) {
			bus := newBus(b)
			for range subs {
				if _, err := eventbus.Subscribe(bus, orderCreated, func(_ context.Context, o order) error {
					sink += o.Total
					return nil
				}); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			o := order{ID: "1", Total: 1}
			b.ReportAllocs()
			for b.Loop() {
				if err := eventbus.Publish(ctx, bus, orderCreated, o); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("impl=slice/subs=%d", subs), func(b *testing.B) {
			var s contractSlice[order]
			for range subs {
				s.subscribe(func(_ context.Context, o order) error {
					sink += o.Total
					return nil
				})
			}
			ctx := context.Background()
			o := order{ID: "1", Total: 1}
			b.ReportAllocs()
			for b.Loop() {
				if err := s.publish(ctx, o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPublishSyncTwoBuses publishes one topic on two buses in turn,
// which must cost what publishing on one does.
func BenchmarkPublishSyncTwoBuses(b *testing.B) {
	buses := []*eventbus.Bus{newBus(b), newBus(b)}
	for _, bus := range buses {
		if _, err := eventbus.Subscribe(bus, orderCreated, func(_ context.Context, o order) error {
			sink += o.Total
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	o := order{ID: "1", Total: 1}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if err := eventbus.Publish(ctx, buses[i&1], orderCreated, o); err != nil {
			b.Fatal(err)
		}
	}
}

// contractSlice is synchronous delivery written by hand with the contract
// of [eventbus.Publish]: handlers behind an atomic pointer to an immutable
// slice (subscribing never blocks publishing), each called with the
// context, errors collected and joined, an error wrapping
// [eventbus.ErrVeto] stopping delivery, a panic recovered as a
// *ply.PanicError and delivery resumed with the next handler.
type contractSlice[T any] struct {
	mu  sync.Mutex
	fns atomic.Pointer[[]func(context.Context, T) error]
}

func (s *contractSlice[T]) subscribe(fn func(context.Context, T) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var fns []func(context.Context, T) error
	if p := s.fns.Load(); p != nil {
		fns = append(fns, *p...)
	}
	fns = append(fns, fn)
	s.fns.Store(&fns)
}

func (s *contractSlice[T]) publish(ctx context.Context, v T) error {
	p := s.fns.Load()
	if p == nil {
		return nil
	}
	fns := *p
	var errs []error
	for i, vetoed := 0, false; i < len(fns) && !vetoed; {
		i, vetoed = deliverFrom(ctx, fns, i, v, &errs)
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errors.Join(errs...)
}

func deliverFrom[T any](ctx context.Context, fns []func(context.Context, T) error, i int, v T, errs *[]error) (next int, vetoed bool) {
	defer func() {
		if p := recover(); p != nil {
			*errs = append(*errs, &ply.PanicError{Value: p, Stack: debug.Stack()})
			next, vetoed = i+1, false
		}
	}()
	for ; i < len(fns); i++ {
		if err := fns[i](ctx, v); err != nil {
			*errs = append(*errs, err)
			if errors.Is(err, eventbus.ErrVeto) {
				return i + 1, true
			}
		}
	}
	return i, false
}

// BenchmarkPublishAsync compares asynchronous delivery in steady state with
// a raw buffered channel and a goroutine per subscriber (chan, of the bus's
// default buffer size). The producer publishes one event per iteration
// while the subscribers consume, so the buffers fill and the producer
// waits for room (backpressure); an op is one event delivered to every
// subscriber. Every row checks that each subscriber handled every event;
// the events still buffered when the loop ends (at most a buffer per
// subscriber) are handled after the timer stops.
func BenchmarkPublishAsync(b *testing.B) {
	for _, subs := range subscriberCounts {
		b.Run(fmt.Sprintf("impl=eventbus/subs=%d", subs), func(b *testing.B) {
			bus := newBus(b)
			counts := make([]int, subs)
			sss := make([]*eventbus.Subscription, subs)
			for i := range subs {
				s, err := eventbus.SubscribeAsync(bus, orderCreated, func(_ context.Context, o order) error {
					counts[i] += o.Total
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				sss[i] = s
			}
			ctx := context.Background()
			o := order{ID: "1", Total: 1}
			b.ReportAllocs()
			for b.Loop() {
				if err := eventbus.PublishAsync(ctx, bus, orderCreated, o); err != nil {
					b.Fatal(err)
				}
			}
			for _, s := range sss {
				if err := s.Drain(ctx); err != nil {
					b.Fatal(err)
				}
			}
			checkCounts(b, counts)
		})
		b.Run(fmt.Sprintf("impl=chan/subs=%d", subs), func(b *testing.B) {
			counts := make([]int, subs)
			chans := make([]chan order, subs)
			var wg sync.WaitGroup
			for i := range chans {
				chans[i] = make(chan order, eventbus.DefaultBuffer) // as the bus's default
				wg.Go(func() {
					for o := range chans[i] {
						counts[i] += o.Total
					}
				})
			}
			o := order{ID: "1", Total: 1}
			b.ReportAllocs()
			for b.Loop() {
				for _, ch := range chans {
					ch <- o
				}
			}
			for _, ch := range chans {
				close(ch)
			}
			wg.Wait()
			checkCounts(b, counts)
		})
	}
}

func checkCounts(b *testing.B, counts []int) {
	b.Helper()
	for i, n := range counts {
		if n != b.N {
			b.Fatalf("subscriber %d handled %d events, want %d", i, n, b.N)
		}
	}
}
