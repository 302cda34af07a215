package jobqueue_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply/jobqueue"
)

// collect runs a handler on queue that records each payload, and returns
// a function that waits for n of them and returns them sorted.
func collect(t *testing.T, q *jobqueue.Queue, queue string) func(n int) []string {
	t.Helper()
	var (
		mu  sync.Mutex
		got []string
	)
	if err := q.Handle(t.Context(), queue, func(_ context.Context, j *jobqueue.Job) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, string(j.Payload))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return func(n int) []string {
		t.Helper()
		eventually(t, 10*time.Second, "jobs not done", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(got) >= n
		})
		mu.Lock()
		defer mu.Unlock()
		return slices.Sorted(slices.Values(got))
	}
}

// Every job of a batch is stored and run; the IDs come in the order the
// jobs were added: the key for a keyed job, else a unique one.
func TestEnqueueBatch(t *testing.T) {
	q := newQueue(t, embedded(t))
	wait := collect(t, q, "batch")
	var b jobqueue.Batch
	b.Add("batch", []byte("a"))
	b.Add("batch", []byte("b"), jobqueue.IdempotencyKey("key-b"))
	b.Add("batch", []byte("c"), jobqueue.Delay(10*time.Millisecond))
	b.Add("batch", json.RawMessage(`"d"`), jobqueue.Priority(jobqueue.High))
	if b.Len() != 4 {
		t.Fatalf("Len() = %d, want 4", b.Len())
	}
	ids, err := q.EnqueueBatch(t.Context(), &b)
	if err != nil {
		t.Fatalf("EnqueueBatch: %v", err)
	}
	if len(ids) != 4 || ids[1] != "key-b" || slices.Contains(ids, "") {
		t.Fatalf("ids = %q, want 4, the second key-b", ids)
	}
	if len(slices.Compact(slices.Sorted(slices.Values(ids)))) != 4 {
		t.Errorf("ids = %q, want them distinct", ids)
	}
	if diff := cmp.Diff([]string{`"d"`, "a", "b", "c"}, wait(4)); diff != "" {
		t.Errorf("jobs run (-want +got):\n%s", diff)
	}
}

// A batch larger than the jobs kept in flight is stored in full, and a
// duplicate key within it adds nothing.
func TestEnqueueBatchLarge(t *testing.T) {
	js := embedded(t)
	q := newQueue(t, js)
	const n = 2500
	var b jobqueue.Batch
	for i := range n {
		b.Add("large", []byte(strconv.Itoa(i)), jobqueue.IdempotencyKey(strconv.Itoa(i)))
	}
	b.Add("large", []byte("again"), jobqueue.IdempotencyKey("7"))
	ids, err := q.EnqueueBatch(t.Context(), &b)
	if err != nil {
		t.Fatalf("EnqueueBatch: %v", err)
	}
	if ids[n] != "7" {
		t.Errorf("duplicate's id = %q, want 7", ids[n])
	}
	s, err := js.Stream(t.Context(), jobqueue.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != n {
		t.Fatalf("stream holds %d jobs, want %d", info.State.Msgs, n)
	}
	if got := collect(t, q, "large")(n); len(got) != n || slices.Contains(got, "again") {
		t.Errorf("ran %d jobs (the duplicate: %v), want %d without it", len(got), slices.Contains(got, "again"), n)
	}
}

// Each invalid job fails alone, with its own error at its index; the
// others are stored.
func TestEnqueueBatchJobErrors(t *testing.T) {
	q := newQueue(t, embedded(t))
	wait := collect(t, q, "some")
	var b jobqueue.Batch
	b.Add("some", []byte("ok1"))
	b.Add("bad.name", []byte("x"))
	b.Add("some", func() {})
	b.Add("some", []byte("x"), jobqueue.Priority(7))
	b.Add("some", []byte("ok2"))
	ids, err := q.EnqueueBatch(t.Context(), &b)
	be, ok := errors.AsType[*jobqueue.BatchError](err)
	if !ok {
		t.Fatalf("EnqueueBatch error = %v, want a *BatchError", err)
	}
	if len(be.Errs) != 5 {
		t.Fatalf("len(Errs) = %d, want 5", len(be.Errs))
	}
	for i, check := range []func(error) bool{
		func(err error) bool { return err == nil },
		func(err error) bool { return errors.Is(err, jobqueue.ErrInvalidQueue) },
		func(err error) bool { _, ok := errors.AsType[*json.UnsupportedTypeError](err); return ok },
		func(err error) bool { return err != nil },
		func(err error) bool { return err == nil },
	} {
		if !check(be.Errs[i]) {
			t.Errorf("Errs[%d] = %v", i, be.Errs[i])
		}
		if (ids[i] == "") != (be.Errs[i] != nil) {
			t.Errorf("ids[%d] = %q with error %v: want an ID exactly when stored", i, ids[i], be.Errs[i])
		}
	}
	if !errors.Is(err, jobqueue.ErrInvalidQueue) {
		t.Errorf("errors.Is(%v, ErrInvalidQueue) = false, want true", err)
	}
	if want := "jobqueue: 3 of 5 jobs not enqueued; job 1: "; len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
		t.Errorf("Error() = %q, want it to start with %q", err.Error(), want)
	}
	if diff := cmp.Diff([]string{"ok1", "ok2"}, wait(2)); diff != "" {
		t.Errorf("jobs run (-want +got):\n%s", diff)
	}
}

// A done context fails every job not yet acknowledged with its error, and
// a reset batch is empty.
func TestEnqueueBatchContextDone(t *testing.T) {
	q := newQueue(t, embedded(t))
	var b jobqueue.Batch
	for i := range 3 {
		b.Add("done", []byte(fmt.Sprint(i)))
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ids, err := q.EnqueueBatch(ctx, &b)
	be, ok := errors.AsType[*jobqueue.BatchError](err)
	if !ok || !errors.Is(err, context.Canceled) {
		t.Fatalf("EnqueueBatch error = %v, want a *BatchError of context.Canceled", err)
	}
	for i, err := range be.Errs {
		if !errors.Is(err, context.Canceled) || ids[i] != "" {
			t.Errorf("job %d: id %q, error %v; want none, and context.Canceled", i, ids[i], err)
		}
	}
	b.Reset()
	if ids, err := q.EnqueueBatch(t.Context(), &b); err != nil || len(ids) != 0 || b.Len() != 0 {
		t.Errorf("EnqueueBatch(reset batch) = %q, %v; want no IDs, no error", ids, err)
	}
}
