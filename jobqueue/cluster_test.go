package jobqueue_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/plykit/ply/internal/natstest"
	"github.com/plykit/ply/jobqueue"
)

// TestClusterNodeLoss runs a queue replicated on 3 servers, and kills one:
// jobs enqueued before and after are all processed.
func TestClusterNodeLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	procs := natstest.StartCluster(t, 3)
	urls := make([]string, len(procs))
	for i, p := range procs {
		urls[i] = p.URL()
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	q := newQueue(t, js, jobqueue.WithReplicas(3))
	var (
		mu   sync.Mutex
		seen = map[string]bool{}
	)
	if err := q.Handle(t.Context(), "ha", func(_ context.Context, j *jobqueue.Job) error {
		mu.Lock()
		defer mu.Unlock()
		seen[string(j.Payload)] = true
		return nil
	}, jobqueue.WithConcurrency(4)); err != nil {
		t.Fatal(err)
	}
	// enqueue retries through a leader election; the key keeps a retried
	// job single.
	enqueueAll := func(from, to int) {
		for i := from; i < to; i++ {
			p := fmt.Sprint("job", i)
			eventually(t, 20*time.Second, "enqueue "+p, func() bool {
				ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
				defer cancel()
				_, err := jobqueue.Enqueue(ctx, q, "ha", []byte(p), jobqueue.IdempotencyKey(p))
				return err == nil
			})
		}
	}
	processed := func(n int) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(seen) == n
		}
	}
	enqueueAll(0, 50)
	eventually(t, 20*time.Second, "jobs before the loss not processed", processed(50))
	procs[0].Kill()
	enqueueAll(50, 100)
	eventually(t, 30*time.Second, "jobs after the loss not processed", processed(100))
}
