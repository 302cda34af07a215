package jobqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
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
	// Tenant is the tenant of the call that enqueued the job
	// ([ply.TenantOf] of Enqueue's context); empty when none. A
	// multi-tenant host runs the job's chain for that tenant ([TenantOf]).
	Tenant string

	msg       delivery
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
	hdrTenant      = "Ply-Tenant"           // the enqueuing call's tenant
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
func (q *Queue) parse(queue string, l Level, m delivery) (*Job, time.Duration, error) {
	j := new(Job)
	timeout, err := q.parseInto(j, queue, l, m)
	return j, timeout, err
}

// parseInto reads a job from a delivered message into j.
func (q *Queue) parseInto(j *Job, queue string, l Level, m delivery) (time.Duration, error) {
	md, err := metadata(m)
	if err != nil {
		return 0, err
	}
	h := m.Headers()
	*j = Job{
		ID:          h.Get(hdrID),
		Tenant:      h.Get(hdrTenant),
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
	failed, interrupted = max(failed, 0), max(interrupted, 0) // another process's bad value counts as 0 too
	j.Attempt = failed + 1
	j.Interrupted = interrupted // the worker adds this message's own: see worker.charge
	j.seq, j.delivered = md.seq, md.delivered
	if v := h.Get(hdrMaxAttempts); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			j.MaxAttempts = n
		}
	}
	if j.ID == "" {
		j.ID = strconv.FormatUint(md.seq, 10)
	}
	j.Enqueued = md.time
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
		timeout = max(timeout, 0) // a negative one is none, as a bad one
	}
	return timeout, nil
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

// ackMetadata is what a job needs of a delivered message's metadata.
type ackMetadata struct {
	seq, delivered uint64 // the stream sequence; deliveries, this one included
	time           time.Time
}

// parseAckSubject reads the metadata from the reply subject of a message
// delivered by a JetStream consumer, without allocating:
// "$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>",
// or, since nats-server 2.10, "$JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>[.<token>]".
// It reports false for anything else, which jetstream.Msg.Metadata reads.
func parseAckSubject(s string) (ackMetadata, bool) {
	const prefix = "$JS.ACK."
	if !strings.HasPrefix(s, prefix) {
		return ackMetadata{}, false
	}
	var tok [12]string
	n := 0
	for rest := s[len(prefix):]; ; n++ {
		if n == len(tok) {
			return ackMetadata{}, false
		}
		i := strings.IndexByte(rest, '.')
		if i < 0 {
			tok[n] = rest
			n++
			break
		}
		tok[n], rest = rest[:i], rest[i+1:]
	}
	var f []string // delivered, stream seq, consumer seq, time, pending
	switch n {
	case 7:
		f = tok[2:7]
	case 9, 10:
		f = tok[4:9]
	default:
		return ackMetadata{}, false
	}
	delivered, err1 := strconv.ParseUint(f[0], 10, 64)
	seq, err2 := strconv.ParseUint(f[1], 10, 64)
	ns, err3 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return ackMetadata{}, false
	}
	return ackMetadata{seq: seq, delivered: delivered, time: time.Unix(0, ns)}, true
}
