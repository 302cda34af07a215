package jobqueue_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply/jobqueue"
)

// A job that fails for good is counted dead; retried from the dead letters
// it runs again with a new set of attempts and its history, and leaves the
// dead letters; a discarded one is gone.
func TestStatsRetryAndDiscardDead(t *testing.T) {
	q := newQueue(t, embedded(t))
	done := make(chan string, 4)
	failing := map[string]bool{"a": true, "b": true}
	fixed := make(chan struct{})
	if err := q.Handle(t.Context(), "reports", jobqueue.Typed(func(_ context.Context, v email, j *jobqueue.Job) error {
		select {
		case <-fixed:
		default:
			if failing[v.To] {
				return fmt.Errorf("no mailbox %s: %w", v.To, jobqueue.ErrPermanent)
			}
		}
		done <- v.To + fmt.Sprint(len(j.History))
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	enqueue(t, q, "reports", email{To: "a"})
	enqueue(t, q, "reports", email{To: "b"})
	enqueue(t, q, "reports", email{To: "c"})
	if got := <-done; got != "c0" {
		t.Fatalf("first done job = %q, want c0", got)
	}
	var dead []*jobqueue.Job
	eventually(t, 5*time.Second, "two dead jobs", func() bool {
		var err error
		dead, err = q.Dead(t.Context(), "reports", 10)
		return err == nil && len(dead) == 2
	})
	want := []jobqueue.Stats{{Queue: "reports", Dead: 2, Done: 1, DeadLettered: 2}}
	var stats []jobqueue.Stats
	eventually(t, 5*time.Second, "stats settled", func() bool { // the workers count after they settle a job
		var err error
		stats, err = q.Stats(t.Context())
		return err == nil && cmp.Equal(want, stats)
	})
	if diff := cmp.Diff(want, stats); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}

	close(fixed)
	id, err := q.RetryDead(t.Context(), "reports", dead[0].Sequence())
	if err != nil {
		t.Fatalf("RetryDead: %v", err)
	}
	if id != dead[0].ID {
		t.Errorf("RetryDead returned id %q, want %q", id, dead[0].ID)
	}
	if got := <-done; got != "a1" {
		t.Errorf("retried job ran as %q, want a1 (with its one failed attempt in its history)", got)
	}
	if err := q.DiscardDead(t.Context(), "reports", dead[1].Sequence()); err != nil {
		t.Fatalf("DiscardDead: %v", err)
	}
	left, err := q.Dead(t.Context(), "reports", 10)
	if err != nil || len(left) != 0 {
		t.Errorf("dead letters after retry and discard: %d, %v; want none", len(left), err)
	}
	for _, tt := range []struct {
		name string
		op   func() error
	}{
		{"retry a retried job", func() error { _, err := q.RetryDead(t.Context(), "reports", dead[0].Sequence()); return err }},
		{"discard a discarded job", func() error { return q.DiscardDead(t.Context(), "reports", dead[1].Sequence()) }},
		{"another queue's sequence", func() error { return q.DiscardDead(t.Context(), "other", dead[0].Sequence()) }},
	} {
		if err := tt.op(); !errors.Is(err, jobqueue.ErrNoDeadJob) {
			t.Errorf("%s: error %v, want ErrNoDeadJob", tt.name, err)
		}
	}
	if _, err := q.Stats(t.Context(), "bad name"); !errors.Is(err, jobqueue.ErrInvalidQueue) {
		t.Errorf("Stats of a bad name: %v, want ErrInvalidQueue", err)
	}
	if got := q.Queues(); !cmp.Equal(got, []string{"reports"}) {
		t.Errorf("Queues() = %v, want [reports]", got)
	}
}
