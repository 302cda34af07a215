package eventbus_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/plykit/ply/eventbus"
)

var sink int

// BenchmarkPublishSync compares synchronous delivery with a hand-written
// copy-on-write slice of callbacks (cowslice), the floor for a bus that
// lets subscribers come and go while publishing.
func BenchmarkPublishSync(b *testing.B) {
	for _, subs := range []int{1, 10} {
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
		b.Run(fmt.Sprintf("impl=cowslice/subs=%d", subs), func(b *testing.B) {
			var p atomic.Pointer[[]func(order)]
			fns := make([]func(order), 0, subs)
			for range subs {
				fns = append(fns, func(o order) { sink += o.Total })
			}
			p.Store(&fns)
			o := order{ID: "1", Total: 1}
			b.ReportAllocs()
			for b.Loop() {
				for _, f := range *p.Load() {
					f(o)
				}
			}
		})
		b.Run(fmt.Sprintf("impl=cowslice-contract/subs=%d", subs), func(b *testing.B) {
			var p atomic.Pointer[[]func(context.Context, order) error]
			fns := make([]func(context.Context, order) error, 0, subs)
			for range subs {
				fns = append(fns, func(_ context.Context, o order) error {
					sink += o.Total
					return nil
				})
			}
			p.Store(&fns)
			ctx := context.Background()
			o := order{ID: "1", Total: 1}
			b.ReportAllocs()
			for b.Loop() {
				if err := contractLoop(ctx, *p.Load(), o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// contractLoop is cowslice with what Publish promises on top: a context,
// errors collected, a veto, panics contained. It shows what the contract
// costs by itself.
func contractLoop(ctx context.Context, fns []func(context.Context, order) error, o order) (err error) {
	var errs []error
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	for _, f := range fns {
		if err := f(ctx, o); err != nil {
			errs = append(errs, err)
			if errors.Is(err, eventbus.ErrVeto) {
				break
			}
		}
	}
	return errors.Join(errs...)
}

// asyncBatch is how many events one BenchmarkPublishAsync iteration
// publishes; the iteration ends when every subscriber has handled them all.
const asyncBatch = 100

// BenchmarkPublishAsync compares asynchronous delivery (publish until every
// subscriber has handled the batch) with a raw buffered channel and a
// goroutine per subscriber (chan). The comparison with watermill is in the
// bench module (../bench), which keeps the peer out of ply's go.mod.
func BenchmarkPublishAsync(b *testing.B) {
	for _, subs := range []int{1, 4} {
		b.Run(fmt.Sprintf("impl=eventbus/subs=%d", subs), func(b *testing.B) {
			bus := newBus(b)
			var n atomic.Int64
			done := make(chan struct{}, 1)
			target := atomic.Int64{}
			for range subs {
				if _, err := eventbus.SubscribeAsync(bus, orderCreated, func(_ context.Context, o order) error {
					if n.Add(1) == target.Load() {
						done <- struct{}{}
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			o := order{ID: "1", Total: 1}
			b.ReportAllocs()
			for b.Loop() {
				target.Add(asyncBatch * int64(subs))
				for range asyncBatch {
					if err := eventbus.PublishAsync(ctx, bus, orderCreated, o); err != nil {
						b.Fatal(err)
					}
				}
				<-done
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*asyncBatch), "ns/event")
		})
		b.Run(fmt.Sprintf("impl=chan/subs=%d", subs), func(b *testing.B) {
			var n atomic.Int64
			done := make(chan struct{}, 1)
			target := atomic.Int64{}
			chans := make([]chan order, subs)
			finished := make(chan struct{})
			for i := range chans {
				chans[i] = make(chan order, eventbus.DefaultBuffer)
				go func() {
					defer func() { finished <- struct{}{} }()
					for range chans[i] {
						if n.Add(1) == target.Load() {
							done <- struct{}{}
						}
					}
				}()
			}
			o := order{ID: "1", Total: 1}
			b.ReportAllocs()
			for b.Loop() {
				target.Add(asyncBatch * int64(subs))
				for range asyncBatch {
					for _, ch := range chans {
						ch <- o
					}
				}
				<-done
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*asyncBatch), "ns/event")
			for _, ch := range chans {
				close(ch)
				<-finished
			}
		})
	}
}
