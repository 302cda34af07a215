package jobqueue_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/plykit/ply/jobqueue"
)

// A worker whose pulls keep expiring (a short idle wait, jobs trickling
// in) loses no job: each is handled long before the ack wait, after which
// the server would hand out again a job it delivered to no one. (Fetch
// with a context deadline lost the jobs delivered between the server's
// expiry of the pull and the client's.)
func TestNoJobWaitsForTheAckWait(t *testing.T) {
	const ackWait = 3 * time.Second
	q := newQueue(t, embedded(t), jobqueue.WithAckWait(ackWait))
	const jobs = 1000
	var (
		mu      sync.Mutex
		handled = map[string]time.Time{}
	)
	done := make(chan struct{})
	if err := q.Handle(t.Context(), "trickle", func(_ context.Context, j *jobqueue.Job) error {
		mu.Lock()
		defer mu.Unlock()
		if _, ok := handled[string(j.Payload)]; !ok {
			handled[string(j.Payload)] = time.Now()
			if len(handled) == jobs {
				close(done)
			}
		}
		return nil
	}, jobqueue.WithIdleWait(10*time.Millisecond), jobqueue.WithConcurrency(4)); err != nil {
		t.Fatal(err)
	}
	enqueued := make(map[string]time.Time, jobs)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for i := range jobs {
		<-tick.C
		p := strconv.Itoa(i)
		enqueued[p] = time.Now()
		enqueue(t, q, "trickle", []byte(p))
	}
	select {
	case <-done:
	case <-time.After(2 * ackWait):
		t.Fatal("jobs not done within two ack waits")
	}
	mu.Lock()
	defer mu.Unlock()
	for p, at := range enqueued {
		if wait := handled[p].Sub(at); wait > ackWait/2 {
			t.Errorf("job %s handled after %v, want well within the ack wait (%v)", p, wait, ackWait)
		}
	}
}
