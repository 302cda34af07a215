package jobqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// An EnqueueOption configures one job.
type EnqueueOption interface{ applyJob(*jobConfig) }

type jobOptionFunc func(*jobConfig)

func (f jobOptionFunc) applyJob(c *jobConfig) { f(c) }

type jobConfig struct {
	delay       time.Duration
	level       Level
	key         string
	timeout     time.Duration
	maxAttempts int
	tenant      string // of the enqueuing call's context: tenant.go
}

// Delay makes the job available after d, not before. The stream schedules
// it (a JetStream message schedule, "Nats-Schedule: @at …"), so the delay
// survives restarts and needs no worker running meanwhile.
func Delay(d time.Duration) EnqueueOption {
	return jobOptionFunc(func(c *jobConfig) { c.delay = d })
}

// Priority sets the job's level. Each level is a subject of its own; a
// worker fetches from the highest level that has jobs, so a job waits
// while jobs of higher levels are ready, except for the few a worker has
// already fetched (its prefetch). Default: [Normal].
func Priority(l Level) EnqueueOption {
	return jobOptionFunc(func(c *jobConfig) { c.level = l })
}

// IdempotencyKey makes the key the job's ID and enqueues the job at most
// once per key within the stream's deduplication window ([WithDedupWindow],
// 2 minutes by default; it is JetStream's Nats-Msg-Id): a second Enqueue
// with the key returns the same ID and adds nothing. After the window, the
// key may enqueue again.
func IdempotencyKey(k string) EnqueueOption {
	return jobOptionFunc(func(c *jobConfig) { c.key = k })
}

// Timeout bounds each attempt of the job: the handler's context is done
// after d. Default: none.
func Timeout(d time.Duration) EnqueueOption {
	return jobOptionFunc(func(c *jobConfig) { c.timeout = d })
}

// MaxAttempts sets how many times the job's handler may fail before the
// job is dead. Default: the queue's ([WithMaxAttempts]).
func MaxAttempts(n int) EnqueueOption {
	return jobOptionFunc(func(c *jobConfig) { c.maxAttempts = n })
}

// Enqueue adds a job with payload to queue and returns its ID once the
// stream has stored it. A []byte or [json.RawMessage] payload is sent as
// is, byte for byte; any other, a string included, is encoded as JSON: a
// string "ada" is sent as "\"ada\"". [Decode] and [Typed] reverse both:
// decoding into []byte or json.RawMessage gives the bytes as sent, into
// any other type decodes the JSON.
//
// Durability: when Enqueue returns nil, the job is in the stream. The
// server writes it to its store at once and syncs the store to disk on its
// own schedule (sync_interval, 2 minutes by default): the job survives the
// kill of any process, but a power loss may lose jobs of the last interval
// unless the server runs with sync_interval: always. In a cluster, with
// [WithReplicas] >= 3, a stored job is on a majority of the servers.
//
// Enqueue returns [ErrInvalidQueue] for a bad queue name, an encoding error,
// or JetStream's error.
func Enqueue[T any](ctx context.Context, q *Queue, queue string, payload T, opts ...EnqueueOption) (string, error) {
	j := newPending(queue, payload, opts)
	if j.err != nil {
		return "", j.err
	}
	j.cfg.tenant = tenantOf(ctx)
	ack, err := q.js.PublishMsg(ctx, q.message(&j))
	if err != nil {
		return "", fmt.Errorf("jobqueue: enqueue %s: %w", queue, err)
	}
	return j.idFor(ack), nil
}

// pendingJob is a job checked and encoded, ready to be sent.
type pendingJob struct {
	queue string
	data  []byte
	cfg   jobConfig
	id    string // set by Queue.message unless the sequence is the ID
	err   error  // why it cannot be enqueued
}

// newPending checks and encodes a job for Enqueue and Batch.Add.
func newPending[T any](queue string, payload T, opts []EnqueueOption) pendingJob {
	j := pendingJob{queue: queue, cfg: jobConfig{level: Normal}}
	if !validQueue(queue) {
		j.err = fmt.Errorf("jobqueue: queue %q: %w", queue, ErrInvalidQueue)
		return j
	}
	j.data, j.err = encode(payload)
	if j.err != nil {
		return j
	}
	if len(opts) > 0 {
		j.cfg = applyJobOptions(opts)
	}
	switch c := j.cfg; {
	case c.level < High || c.level > Low:
		j.err = fmt.Errorf("jobqueue: Priority(%v): use High, Normal or Low", c.level)
	case c.maxAttempts < 0:
		j.err = fmt.Errorf("jobqueue: MaxAttempts(%d): must be >= 1", c.maxAttempts)
	case c.timeout < 0, c.delay < 0:
		j.err = fmt.Errorf("jobqueue: negative Timeout or Delay")
	}
	return j
}

// encode returns payload as Enqueue sends it.
func encode[T any](payload T) ([]byte, error) {
	switch p := any(payload).(type) {
	case []byte:
		return p, nil
	case json.RawMessage:
		return p, nil
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("jobqueue: encode %T: %w", payload, err)
	}
	return b, nil
}

// applyJobOptions returns the configuration opts make of the default.
func applyJobOptions(opts []EnqueueOption) jobConfig {
	c := jobConfig{level: Normal}
	for _, o := range opts {
		if o != nil {
			o.applyJob(&c)
		}
	}
	return c
}

// message returns the message that enqueues j, whose delay starts now.
//
// The job's ID is its key, else its stream sequence, known from the
// acknowledgement (see pendingJob.idFor); a scheduled job's sequence changes
// when it fires, so it gets a unique ID. Headers carry only what differs
// from defaults.
func (q *Queue) message(j *pendingJob) *nats.Msg {
	c := j.cfg
	m := &nats.Msg{Subject: q.readySubject(j.queue, c.level), Data: j.data}
	if c == (jobConfig{level: Normal}) {
		return m
	}
	m.Header = nats.Header{}
	j.id = c.key
	if j.id == "" && c.delay > 0 {
		j.id = nuid.Next()
	}
	if j.id != "" {
		m.Header.Set(hdrID, j.id)
	}
	if c.key != "" {
		m.Header.Set(jetstream.MsgIDHeader, c.key)
	}
	if c.maxAttempts > 0 {
		m.Header.Set(hdrMaxAttempts, strconv.Itoa(c.maxAttempts))
	}
	if c.tenant != "" {
		m.Header.Set(hdrTenant, c.tenant)
	}
	if c.timeout > 0 {
		m.Header.Set(hdrTimeout, c.timeout.String())
	}
	if c.delay > 0 { // the fired message's timestamp is not the enqueue time
		now := time.Now()
		m.Header.Set(hdrEnqueued, now.UTC().Format(time.RFC3339Nano))
		schedule(m, q.schedSubject(j.queue, nuid.Next()), now.Add(c.delay))
	}
	return m
}

// idFor returns the ID of j, sent by Queue.message and stored as ack says.
func (j *pendingJob) idFor(ack *jetstream.PubAck) string {
	if j.id != "" {
		return j.id
	}
	return strconv.FormatUint(ack.Sequence, 10)
}

// schedule turns m, addressed to its ready subject, into a message schedule
// on subject sched that the stream publishes to the ready subject at t.
func schedule(m *nats.Msg, sched string, t time.Time) {
	m.Header.Set(jetstream.ScheduleHeader, "@at "+t.UTC().Format(time.RFC3339Nano))
	m.Header.Set(jetstream.ScheduleTargetHeader, m.Subject)
	m.Subject = sched
}
