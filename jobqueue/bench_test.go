package jobqueue_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plykit/ply/jobqueue"
)

// BenchmarkJobs measures jobs end to end, enqueue → handler → ack, as users
// run them: [producers] goroutines enqueue b.N jobs as fast as they can, so
// the queue is saturated unless the workers keep up, and each job's handler
// does nothing but note its latency. ns/op and allocs/op are per job (the
// allocations include the in-process server's, the same for every impl);
// p50-ms and p99-ms are the latencies from the start of a job's enqueue to
// its handler. cpu-us/job is the process's CPU time per job (the server's
// included): on a machine shared with other work, jobs/s moves with the
// load while cpu-us/job does much less, and on a machine of its own,
// saturated, jobs/s is about the inverse.
//
// impl=bare is nats.go's idiomatic JetStream on the same server build, with
// the stream and consumer configuration jobqueue creates (file storage): a
// synchronous Publish per job, and one Consume() per worker on the durable
// consumer, acknowledging each message. impl=jobqueue is [jobqueue.Enqueue]
// and [jobqueue.Queue.Handle] with default options and WithConcurrency.
//
// workers=0 measures enqueueing alone, in batches of [batchSize] per
// producer: impl=bare-async publishes them with PublishMsgAsync and waits
// for every acknowledgement, impl=jobqueue-batch with
// [jobqueue.Queue.EnqueueBatch].
func BenchmarkJobs(b *testing.B) {
	for _, workers := range []int{1, 4} {
		for _, impl := range []struct {
			name  string
			start func(b *testing.B, workers int, handled func(payload []byte)) enqueueFunc
		}{
			{"bare", startBare},
			{"jobqueue", startJobqueue},
		} {
			b.Run(fmt.Sprintf("impl=%s/workers=%d", impl.name, workers), func(b *testing.B) {
				var lat latencies
				var n atomic.Int64
				all := make(chan struct{})
				enqueue := impl.start(b, workers, func(payload []byte) {
					lat.add(time.Duration(clock() - int64(binary.BigEndian.Uint64(payload)))) //nolint:gosec // a duration in ns, far below 1<<63
					if n.Add(1) == int64(b.N) {
						close(all)
					}
				})
				b.ReportAllocs()
				cpu := startCPU()
				b.ResetTimer()
				produce(b, func(ctx context.Context, buf []byte) error {
					binary.BigEndian.PutUint64(buf, uint64(clock())) //nolint:gosec // clock() is positive
					return enqueue(ctx, buf)
				})
				<-all
				b.StopTimer()
				cpu.report(b)
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
				b.ReportMetric(lat.quantile(0.5).Seconds()*1e3, "p50-ms")
				b.ReportMetric(lat.quantile(0.99).Seconds()*1e3, "p99-ms")
			})
		}
	}
	for _, impl := range []struct {
		name  string
		start func(b *testing.B) batchFunc
	}{
		{"bare-async", startBareAsync},
		{"jobqueue-batch", startJobqueueBatch},
	} {
		b.Run(fmt.Sprintf("impl=%s/workers=0", impl.name), func(b *testing.B) {
			enqueue := impl.start(b)
			var next atomic.Int64
			b.ReportAllocs()
			cpu := startCPU()
			b.ResetTimer()
			var wg sync.WaitGroup
			for range producers {
				wg.Go(func() {
					for {
						end := next.Add(batchSize)
						k := batchSize - max(0, int(end)-b.N)
						if k <= 0 {
							return
						}
						buf := make([]byte, k*len(payload)) // kept by the client until acknowledged
						jobs := make([][]byte, k)
						for i := range jobs {
							jobs[i] = buf[i*len(payload) : (i+1)*len(payload)]
							copy(jobs[i], payload)
						}
						if err := enqueue(b.Context(), jobs); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			cpu.report(b)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
		})
	}
}

const (
	producers = 4   // concurrent enqueuers
	batchSize = 100 // jobs per batch, for workers=0
)

// payload is a job's payload: a small JSON document whose first 8 bytes
// the benchmark overwrites with the enqueue time.
var payload = []byte(`{"to":"someone@example.com"}`)

type (
	enqueueFunc func(ctx context.Context, payload []byte) error
	batchFunc   func(ctx context.Context, payloads [][]byte) error
)

var epoch = time.Now()

// cpuMeter measures the CPU time of a benchmark's run.
type cpuMeter struct {
	start time.Duration
	ok    bool
}

func startCPU() cpuMeter {
	t, ok := cpuTime()
	return cpuMeter{t, ok}
}

func (m cpuMeter) report(b *testing.B) {
	b.Helper()
	if t, ok := cpuTime(); ok && m.ok {
		b.ReportMetric(float64(t-m.start)/float64(time.Microsecond)/float64(b.N), "cpu-us/job")
	}
}

// clock is a monotonic time in nanoseconds.
func clock() int64 { return int64(time.Since(epoch)) }

// produce enqueues b.N jobs from [producers] goroutines, each reusing its
// payload buffer (a synchronous enqueue is done with it when it returns).
func produce(b *testing.B, enqueue enqueueFunc) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range producers {
		wg.Go(func() {
			buf := append([]byte(nil), payload...)
			for next.Add(1) <= int64(b.N) {
				if err := enqueue(b.Context(), buf); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// Names and configuration of what jobqueue creates for queue "bench", for
// the bare implementations to do the same.
const (
	benchStream  = jobqueue.DefaultStream
	benchSubject = jobqueue.DefaultPrefix + ".ready.bench.1" // the Normal level
)

func bareStream(b *testing.B, js jetstream.JetStream) jetstream.Stream {
	b.Helper()
	s, err := js.CreateStream(b.Context(), jetstream.StreamConfig{
		Name:              benchStream,
		Subjects:          []string{jobqueue.DefaultPrefix + ".ready.>", jobqueue.DefaultPrefix + ".sched.>"},
		Retention:         jetstream.WorkQueuePolicy,
		Storage:           jetstream.FileStorage,
		Replicas:          1,
		Duplicates:        jobqueue.DefaultDedupWindow,
		AllowMsgSchedules: true,
		AllowRollup:       true,
	})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func startBare(b *testing.B, workers int, handled func([]byte)) enqueueFunc {
	b.Helper()
	js := embedded(b)
	cons, err := bareStream(b, js).CreateConsumer(b.Context(), jetstream.ConsumerConfig{
		Durable:       "bench_1",
		FilterSubject: benchSubject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       jobqueue.DefaultAckWait,
		MaxDeliver:    -1,
		MaxAckPending: 10_000,
	})
	if err != nil {
		b.Fatal(err)
	}
	for range workers {
		cc, err := cons.Consume(func(m jetstream.Msg) {
			handled(m.Data())
			if err := m.Ack(); err != nil {
				b.Error(err)
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cc.Stop(); <-cc.Closed() })
	}
	return func(ctx context.Context, payload []byte) error {
		_, err := js.Publish(ctx, benchSubject, payload)
		return err
	}
}

func benchQueue(b *testing.B) *jobqueue.Queue {
	b.Helper()
	q, err := jobqueue.New(b.Context(), embedded(b), quiet)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := q.Stop(context.Background()); err != nil {
			b.Error(err)
		}
	})
	return q
}

func startJobqueue(b *testing.B, workers int, handled func([]byte)) enqueueFunc {
	b.Helper()
	q := benchQueue(b)
	if err := q.Handle(b.Context(), "bench", func(_ context.Context, j *jobqueue.Job) error {
		handled(j.Payload)
		return nil
	}, jobqueue.WithConcurrency(workers)); err != nil {
		b.Fatal(err)
	}
	return func(ctx context.Context, payload []byte) error {
		_, err := jobqueue.Enqueue(ctx, q, "bench", payload)
		return err
	}
}

func startBareAsync(b *testing.B) batchFunc {
	b.Helper()
	js := embedded(b)
	bareStream(b, js)
	return func(ctx context.Context, payloads [][]byte) error {
		futures := make([]jetstream.PubAckFuture, len(payloads))
		for i, p := range payloads {
			f, err := js.PublishMsgAsync(&nats.Msg{Subject: benchSubject, Data: p})
			if err != nil {
				return err
			}
			futures[i] = f
		}
		var errs []error
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				errs = append(errs, err)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return errors.Join(errs...)
	}
}

func startJobqueueBatch(b *testing.B) batchFunc {
	b.Helper()
	q := benchQueue(b)
	return func(ctx context.Context, payloads [][]byte) error {
		var bt jobqueue.Batch
		for _, p := range payloads {
			bt.Add("bench", p)
		}
		_, err := q.EnqueueBatch(ctx, &bt)
		return err
	}
}

// latencies is a histogram of durations, safe for concurrent use and free
// of allocations: 16 buckets per power of two, so a quantile is within
// about 6% of the true value.
type latencies struct{ counts [64 * 16]atomic.Int64 }

func (l *latencies) add(d time.Duration) {
	i := 0
	switch {
	case d >= 16:
		e := bits.Len64(uint64(d))
		i = (e-4)*16 + int(d>>(e-5)&15)
	case d > 0:
		i = int(d)
	}
	l.counts[i].Add(1)
}

// quantile returns the lower bound of the bucket holding the q-quantile.
func (l *latencies) quantile(q float64) time.Duration {
	var total int64
	for i := range l.counts {
		total += l.counts[i].Load()
	}
	want := int64(q * float64(total))
	var seen int64
	for i := range l.counts {
		seen += l.counts[i].Load()
		if seen > want {
			if i < 16 {
				return time.Duration(i)
			}
			e := i/16 + 4
			return time.Duration(int64(i%16+16) << (e - 5))
		}
	}
	return 0
}
