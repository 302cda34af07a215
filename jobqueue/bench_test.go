package jobqueue_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/plykit/ply/jobqueue"
)

// batch is how many jobs one benchmark iteration enqueues and waits for.
const batch = 1000

// BenchmarkJobs measures enqueue → processed → acknowledged, per job, on an
// embedded server: jobqueue against a bare nats.go producer and pull
// consumer doing the same (synchronous publish, fetch, ack), in one run.
func BenchmarkJobs(b *testing.B) {
	for _, workers := range []int{1, 4} {
		b.Run(fmt.Sprintf("impl=jobqueue/workers=%d", workers), func(b *testing.B) {
			js := embedded(b)
			q := newQueue(b, js, jobqueue.WithMemoryStorage(false))
			var n atomic.Int64
			done := make(chan struct{}, 1)
			target := atomic.Int64{}
			if err := q.Handle(b.Context(), "bench", func(context.Context, *jobqueue.Job) error {
				if n.Add(1) == target.Load() {
					done <- struct{}{}
				}
				return nil
			}, jobqueue.WithConcurrency(workers)); err != nil {
				b.Fatal(err)
			}
			payload := []byte(`{"to":"someone@example.com"}`)
			ctx := b.Context()
			run := func() {
				target.Add(batch)
				for range batch {
					if _, err := jobqueue.Enqueue(ctx, q, "bench", payload); err != nil {
						b.Fatal(err)
					}
				}
				<-done
			}
			run() // warm up the server's store and the connection, untimed
			start := n.Load()
			b.ReportAllocs()
			for b.Loop() {
				run()
			}
			b.ReportMetric(float64(n.Load()-start)/b.Elapsed().Seconds(), "jobs/s")
		})
	}
	for _, workers := range []int{1, 4} {
		b.Run(fmt.Sprintf("impl=bare/workers=%d", workers), func(b *testing.B) {
			js := embedded(b)
			ctx := b.Context()
			s, err := js.CreateStream(ctx, jetstream.StreamConfig{
				Name: "BARE", Subjects: []string{"bare.>"}, Retention: jetstream.WorkQueuePolicy,
			})
			if err != nil {
				b.Fatal(err)
			}
			cons, err := s.CreateConsumer(ctx, jetstream.ConsumerConfig{
				Durable: "bare", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second,
			})
			if err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64
			target := atomic.Int64{}
			done := make(chan struct{}, 1)
			msgs := make(chan jetstream.Msg, workers+16) // the same prefetch as jobqueue's default
			fetchCtx, stop := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() { // one fetcher
				defer close(msgs)
				for fetchCtx.Err() == nil {
					ctx, cancel := context.WithTimeout(fetchCtx, 200*time.Millisecond)
					batch, err := cons.Fetch(workers+16, jetstream.FetchContext(ctx))
					if err != nil {
						cancel()
						b.Errorf("fetch: %v", err)
						return
					}
					for m := range batch.Messages() {
						msgs <- m
					}
					cancel()
				}
			})
			for range workers {
				wg.Go(func() {
					for m := range msgs {
						if err := m.Ack(); err != nil {
							b.Error(err)
						}
						if n.Add(1) == target.Load() {
							done <- struct{}{}
						}
					}
				})
			}
			b.Cleanup(func() { stop(); wg.Wait() })
			payload := []byte(`{"to":"someone@example.com"}`)
			run := func() {
				target.Add(batch)
				for range batch {
					if _, err := js.Publish(ctx, "bare.bench", payload); err != nil {
						b.Fatal(err)
					}
				}
				<-done
			}
			run() // warm up, untimed, as for jobqueue
			start := n.Load()
			b.ReportAllocs()
			for b.Loop() {
				run()
			}
			b.ReportMetric(float64(n.Load()-start)/b.Elapsed().Seconds(), "jobs/s")
		})
	}
}
