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
	if !validQueue(queue) {
		return "", fmt.Errorf("jobqueue: queue %q: %w", queue, ErrInvalidQueue)
	}
	var data []byte
	switch p := any(payload).(type) {
	case []byte:
		data = p
	case json.RawMessage:
		data = p
	default:
		b, err := json.Marshal(payload)
		if err != nil {
			return "", fmt.Errorf("jobqueue: encode %T: %w", payload, err)
		}
		data = b
	}
	c := jobConfig{level: Normal}
	for _, o := range opts {
		if o != nil {
			o.applyJob(&c)
		}
	}
	switch {
	case c.level < High || c.level > Low:
		return "", fmt.Errorf("jobqueue: Priority(%v): use High, Normal or Low", c.level)
	case c.maxAttempts < 0:
		return "", fmt.Errorf("jobqueue: MaxAttempts(%d): must be >= 1", c.maxAttempts)
	case c.timeout < 0, c.delay < 0:
		return "", fmt.Errorf("jobqueue: negative Timeout or Delay")
	}
	// The job's ID is its key, else its stream sequence, known from the
	// acknowledgement; a scheduled job's sequence changes when it fires, so
	// it gets a unique ID. Headers carry only what differs from defaults.
	m := &nats.Msg{Subject: q.readySubject(queue, c.level), Data: data}
	if c != (jobConfig{level: Normal}) {
		m.Header = nats.Header{}
	}
	id := c.key
	if id == "" && c.delay > 0 {
		id = nuid.Next()
	}
	if id != "" {
		m.Header.Set(hdrID, id)
	}
	if c.delay > 0 { // the fired message's timestamp is not the enqueue time
		m.Header.Set(hdrEnqueued, time.Now().UTC().Format(time.RFC3339Nano))
	}
	if c.maxAttempts > 0 {
		m.Header.Set(hdrMaxAttempts, strconv.Itoa(c.maxAttempts))
	}
	if c.timeout > 0 {
		m.Header.Set(hdrTimeout, c.timeout.String())
	}
	var popts []jetstream.PublishOpt
	if c.key != "" {
		popts = append(popts, jetstream.WithMsgID(c.key))
	}
	if c.delay > 0 {
		schedule(m, q.schedSubject(queue, nuid.Next()), time.Now().Add(c.delay))
	}
	ack, err := q.js.PublishMsg(ctx, m, popts...)
	if err != nil {
		return "", fmt.Errorf("jobqueue: enqueue %s: %w", queue, err)
	}
	if id == "" {
		id = strconv.FormatUint(ack.Sequence, 10)
	}
	return id, nil
}

// schedule turns m, addressed to its ready subject, into a message schedule
// on subject sched that the stream publishes to the ready subject at t.
func schedule(m *nats.Msg, sched string, t time.Time) {
	m.Header.Set(jetstream.ScheduleHeader, "@at "+t.UTC().Format(time.RFC3339Nano))
	m.Header.Set(jetstream.ScheduleTargetHeader, m.Subject)
	m.Subject = sched
}
