package jobqueue

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
)

// A Batch is a list of jobs to enqueue together with [Queue.EnqueueBatch].
// The zero value is an empty batch. A Batch is not safe for concurrent use.
type Batch struct {
	jobs []pendingJob
}

// Add appends a job to b: payload for queue, with opts, encoded as
// [Enqueue] encodes it. A []byte payload is kept, not copied, until
// EnqueueBatch returns. An invalid job (a bad queue name, an option error,
// a payload that cannot be encoded) is not sent, and its error is the
// job's error in EnqueueBatch's result: every job's outcome is reported in
// one place, in the order of Add.
func (b *Batch) Add(queue string, payload any, opts ...EnqueueOption) {
	b.jobs = append(b.jobs, newPending(queue, payload, opts))
}

// Len returns the number of jobs added to b.
func (b *Batch) Len() int { return len(b.jobs) }

// Reset empties b for reuse, keeping its storage.
func (b *Batch) Reset() {
	clear(b.jobs)
	b.jobs = b.jobs[:0]
}

// batchWindow bounds the jobs of one EnqueueBatch waiting for their
// acknowledgement, below nats.go's limit for a JetStream context (4000 by
// default, shared by every async publish on it).
const batchWindow = 1000

// EnqueueBatch enqueues the jobs of b, sending each without waiting for
// the acknowledgement of the previous ones, and returns once the stream
// has acknowledged every one (or ctx is done). It is [Enqueue] for many
// jobs at a fraction of the cost per job: the round trips overlap.
//
// ids holds the jobs' IDs in the order they were added, "" for a job that
// was not enqueued. err is nil when every job was stored; otherwise it is
// a [*BatchError] that holds each job's error, nil for the stored ones.
// The jobs are sent in order but stored one by one, not atomically: a
// failure leaves the others stored. A job whose error is ctx's, or a
// timeout, may have been stored all the same: enqueue it again with an
// [IdempotencyKey] to be sure it is stored once.
//
// When EnqueueBatch returns, each job that has an ID is in the stream, as
// for Enqueue (see its durability). b is unchanged and may be reused
// ([Batch.Reset]). EnqueueBatch is safe for concurrent use with other
// calls on q, not with b.
func (q *Queue) EnqueueBatch(ctx context.Context, b *Batch) (ids []string, err error) {
	ids = make([]string, len(b.jobs))
	errs := make([]error, len(b.jobs))
	failed := 0
	fail := func(i int, err error) {
		errs[i] = err
		failed++
	}
	type inFlight struct {
		i   int
		ack jetstream.PubAckFuture
	}
	window := make([]inFlight, 0, min(len(b.jobs), batchWindow))
	tenant := tenantOf(ctx)
	done := ctx.Done()
	// settle waits for the oldest job in flight.
	settle := func() {
		f := window[0]
		window = window[1:]
		j := &b.jobs[f.i]
		select {
		case ack := <-f.ack.Ok():
			ids[f.i] = j.idFor(ack)
		case err := <-f.ack.Err():
			fail(f.i, fmt.Errorf("jobqueue: enqueue %s: %w", j.queue, err))
		case <-done:
			fail(f.i, fmt.Errorf("jobqueue: enqueue %s (the job may be stored): %w", j.queue, context.Cause(ctx)))
		}
	}
	for i := range b.jobs {
		j := &b.jobs[i]
		if j.err != nil {
			fail(i, j.err)
			continue
		}
		select {
		case <-done:
			fail(i, fmt.Errorf("jobqueue: enqueue %s: %w", j.queue, context.Cause(ctx)))
			continue
		default:
		}
		if len(window) == cap(window) {
			settle()
		}
		j.cfg.tenant = tenant
		m := q.message(j)
		for {
			ack, err := q.js.PublishMsgAsync(m)
			if errors.Is(err, jetstream.ErrTooManyStalledMsgs) && len(window) > 0 {
				settle() // other publishes on the JetStream context filled it
				continue
			}
			if err != nil {
				fail(i, fmt.Errorf("jobqueue: enqueue %s: %w", j.queue, err))
				break
			}
			window = append(window, inFlight{i, ack})
			break
		}
	}
	for len(window) > 0 {
		settle()
	}
	if failed > 0 {
		return ids, &BatchError{Errs: errs}
	}
	return ids, nil
}

// BatchError reports the jobs of a batch that [Queue.EnqueueBatch] did not
// enqueue. [errors.Is] and [errors.As] look into each job's error.
type BatchError struct {
	// Errs holds one error per job of the batch, in the order the jobs
	// were added: nil for a job that was stored.
	Errs []error
}

func (e *BatchError) Error() string { // "jobqueue: 2 of 100 jobs not enqueued; job 7: …"
	failed, first := 0, -1
	for i, err := range e.Errs {
		if err != nil {
			failed++
			if first < 0 {
				first = i
			}
		}
	}
	if first < 0 {
		return "jobqueue: no job failed in a batch of " + strconv.Itoa(len(e.Errs))
	}
	return "jobqueue: " + strconv.Itoa(failed) + " of " + strconv.Itoa(len(e.Errs)) +
		" jobs not enqueued; job " + strconv.Itoa(first) + ": " + e.Errs[first].Error()
}

// Unwrap returns the errors of the jobs that were not enqueued.
func (e *BatchError) Unwrap() []error {
	var errs []error
	for _, err := range e.Errs {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
