package jobqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Job is one run of a job, as its [Handler] sees it. The handler owns the
// Job for the duration of the call and must not keep it after returning.
type Job struct {
	ID          string    // as returned by Enqueue: the idempotency key, or a unique ID
	Queue       string    // the queue's name
	Payload     []byte    // as enqueued
	Priority    Level     // the job's level
	Attempt     int       // 1 on the first run, +1 after each failed run; an interrupted run does not count
	MaxAttempts int       // the job is dead once Attempt == MaxAttempts fails
	Enqueued    time.Time // when the job was first enqueued
	History     []Attempt // the earlier attempts that failed, oldest first
	Interrupted int       // earlier deliveries that ended without a result (see [WithMaxInterruptions])

	msg       jetstream.Msg
	seq       uint64 // the message's stream sequence
	delivered uint64 // deliveries of the message, this one included
}

// Attempt is one failed run of a job, as kept in its history.
type Attempt struct {
	Attempt int       `json:"attempt"`
	Time    time.Time `json:"time"`  // when the attempt ended
	Error   string    `json:"error"` // the handler's error, or why the attempt has no result
}

// Handler runs a job. Returning nil acknowledges the job (it is done);
// returning an error schedules another attempt after a backoff, or, after
// the last attempt or for an error wrapping [ErrPermanent], moves the job
// to the dead-letter stream with its history. The context is done when the
// job's timeout expires or the worker is stopped hard. A Handler may be
// called concurrently for different jobs (see [WithConcurrency]), and more
// than once for one job (at least once: after a crash, an expired ack wait
// or a lost acknowledgement), so it should be idempotent. A run that ends
// without a result (the worker died or was stopped first) does not count
// as an attempt; see [WithMaxInterruptions].
type Handler func(ctx context.Context, j *Job) error

// Decode decodes j's payload into a T, as [Enqueue] encoded it: a T of
// type []byte or [json.RawMessage] is the payload itself, as sent (not a
// copy); any other T is decoded from JSON, so a string enqueued as a
// string decodes as one. A decode error wraps [ErrPermanent]: retrying
// cannot fix the payload.
func Decode[T any](j *Job) (T, error) {
	var v T
	switch p := any(&v).(type) {
	case *[]byte:
		*p = j.Payload
		return v, nil
	case *json.RawMessage:
		*p = j.Payload
		return v, nil
	}
	if err := json.Unmarshal(j.Payload, &v); err != nil {
		return v, fmt.Errorf("jobqueue: job %s payload: %w: %w", j.ID, ErrPermanent, err)
	}
	return v, nil
}

// Typed adapts fn, which takes the job's payload decoded as a T, to a
// [Handler].
func Typed[T any](fn func(ctx context.Context, v T, j *Job) error) Handler {
	return func(ctx context.Context, j *Job) error {
		v, err := Decode[T](j)
		if err != nil {
			return err
		}
		return fn(ctx, v, j)
	}
}

// Message headers: the job's metadata travels with it.
const (
	hdrID          = "Ply-Job-Id"
	hdrEnqueued    = "Ply-Job-Enqueued"     // RFC 3339, nanoseconds
	hdrMaxAttempts = "Ply-Job-Max-Attempts" // absent: the queue's default
	hdrTimeout     = "Ply-Job-Timeout"      // a Go duration; absent: none
	hdrAttempts    = "Ply-Job-Attempts"     // failed attempts before this message; absent: 0
	hdrInterrupted = "Ply-Job-Interrupted"  // deliveries without a result before this message; absent: 0
	hdrHistory     = "Ply-Job-History"      // JSON []Attempt; absent: none
	hdrPriority    = "Ply-Job-Priority"     // on dead letters: the job's level
)

// maxErrorLen bounds each error kept in a job's history (headers are
// limited in size).
const maxErrorLen = 512

// parse reads a job from a delivered message.
func (q *Queue) parse(queue string, l Level, m jetstream.Msg) (*Job, time.Duration, error) {
	md, err := m.Metadata()
	if err != nil {
		return nil, 0, err
	}
	h := m.Headers()
	j := &Job{
		ID:          h.Get(hdrID),
		Queue:       queue,
		Payload:     m.Data(),
		Priority:    l,
		MaxAttempts: q.cfg.maxAttempts,
		msg:         m,
	}
	// Each run that failed was recorded in a new message (the retry); the
	// interruptions of earlier messages travel in a header.
	failed, interrupted := 0, 0
	if v := h.Get(hdrAttempts); v != "" {
		failed, _ = strconv.Atoi(v) // written by us; a bad value counts as 0
	}
	if v := h.Get(hdrInterrupted); v != "" {
		interrupted, _ = strconv.Atoi(v)
	}
	j.Attempt = failed + 1
	j.Interrupted = interrupted // the worker adds this message's own: see worker.charge
	j.seq, j.delivered = md.Sequence.Stream, md.NumDelivered
	if v := h.Get(hdrMaxAttempts); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			j.MaxAttempts = n
		}
	}
	if j.ID == "" {
		j.ID = strconv.FormatUint(md.Sequence.Stream, 10)
	}
	j.Enqueued = md.Timestamp
	if v := h.Get(hdrEnqueued); v != "" {
		j.Enqueued, _ = time.Parse(time.RFC3339Nano, v)
	}
	if v := h.Get(hdrHistory); v != "" {
		if err := json.Unmarshal([]byte(v), &j.History); err != nil {
			j.History = []Attempt{{Error: "history unreadable: " + err.Error()}}
		}
	}
	var timeout time.Duration
	if v := h.Get(hdrTimeout); v != "" {
		timeout, _ = time.ParseDuration(v)
	}
	return j, timeout, nil
}

// next returns a copy of j's message for its next attempt (or the dead
// letter), with the failed attempts and the interruptions recorded: j's
// attempt counts as failed.
func next(j *Job, history []Attempt) (*nats.Msg, error) {
	h := nats.Header{}
	for k, v := range j.msg.Headers() {
		if len(k) > 4 && k[:4] == "Nats" { // server-set: schedules, dedup ids
			continue
		}
		h[k] = v
	}
	b, err := json.Marshal(history)
	if err != nil {
		return nil, err
	}
	h.Set(hdrID, j.ID)
	h.Set(hdrEnqueued, j.Enqueued.UTC().Format(time.RFC3339Nano))
	h.Set(hdrHistory, string(b))
	h.Set(hdrAttempts, strconv.Itoa(j.Attempt))
	h.Set(hdrInterrupted, strconv.Itoa(j.Interrupted))
	return &nats.Msg{Header: h, Data: j.Payload}, nil
}

func truncate(s string) string {
	if len(s) <= maxErrorLen {
		return s
	}
	return s[:maxErrorLen] + "…"
}
