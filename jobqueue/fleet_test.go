package jobqueue_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plykit/ply/internal/natstest"
	"github.com/plykit/ply/jobqueue"
)

// TestOnceAcrossHosts runs the workers of one queue in three "hosts",
// each with its own connection and Queue, as a fleet does: their pulls
// share the queue's durable consumers, so each job runs once (no worker
// dies here, so at least once is exactly once), and every host takes part.
func TestOnceAcrossHosts(t *testing.T) {
	s := natstest.Embedded(t)
	const hosts, jobs = 3, 300
	var (
		mu   sync.Mutex
		runs = map[string]int{}
		by   = map[int]int{}
	)
	queues := make([]*jobqueue.Queue, hosts)
	for i := range hosts {
		nc, err := nats.Connect("", nats.InProcessServer(s))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		queues[i] = newQueue(t, js)
		if err := queues[i].Handle(context.Background(), "shared", func(_ context.Context, j *jobqueue.Job) error {
			time.Sleep(time.Millisecond) // the job's work, so that the hosts overlap
			mu.Lock()
			runs[j.ID]++
			by[i]++
			mu.Unlock()
			return nil
		}, jobqueue.WithConcurrency(2)); err != nil {
			t.Fatal(err)
		}
	}
	for n := range jobs {
		enqueue(t, queues[n%hosts], "shared", n, jobqueue.IdempotencyKey(fmt.Sprint("job-", n)))
	}
	eventually(t, 30*time.Second, "every job run", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(runs) == jobs
	})
	for _, q := range queues {
		if err := q.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for id, n := range runs {
		if n != 1 {
			t.Errorf("job %s ran %d times, want once", id, n)
		}
	}
	for i := range hosts {
		if by[i] == 0 {
			t.Errorf("host %d ran no job of %d; runs by host: %v", i, jobs, by)
		}
	}
}
