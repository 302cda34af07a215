package jobqueue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/plykit/ply/internal/placement"
)

// Level is a job's priority (see [Priority]): each level has its own
// subject in the queue, and workers take from the highest level that has
// jobs.
type Level int

// The levels, highest first.
const (
	High   Level = 0
	Normal Level = 1 // the default
	Low    Level = 2
)

var levels = [...]Level{High, Normal, Low}

func (l Level) String() string {
	switch l {
	case High:
		return "high"
	case Normal:
		return "normal"
	case Low:
		return "low"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// Defaults of [New]'s options.
const (
	DefaultStream      = "PLY_JOBS"
	DefaultPrefix      = "ply.jobs"
	DefaultMaxAttempts = 5
	// DefaultMaxInterruptions is the default of [WithMaxInterruptions].
	DefaultMaxInterruptions = 10
	DefaultAckWait          = 30 * time.Second
	DefaultDedupWindow      = 2 * time.Minute
)

// Queue enqueues jobs into, and runs handlers for, the queues of one
// JetStream work-queue stream. Create it with [New]. A Queue is safe for
// concurrent use. Several processes may use the same stream: each job is
// handed to one worker at a time.
type Queue struct {
	js      jetstream.JetStream
	cfg     config
	stream  jetstream.Stream
	started jetstream.Stream // run markers of redelivered jobs: see worker.charge

	subjects sync.Map // queue name → *[3]string: its ready subjects by level
	counts   sync.Map // queue name → *counts: this process's figures (Stats)

	mu      sync.Mutex
	workers map[string]*worker
	stopped bool
}

// An Option configures a [Queue].
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	stream, dead string
	started      string
	prefix       string
	replicas     int
	memory       bool
	maxAttempts  int
	maxIntr      int
	ackWait      time.Duration
	dedup        time.Duration
	backoff      Backoff
	logger       *slog.Logger
	errs         []error
}

// WithStream names the JetStream stream that holds the jobs; dead jobs go
// to a stream of the same name with the suffix "_DEAD", run markers to one
// with the suffix "_STARTED". Default: [DefaultStream].
func WithStream(name string) Option {
	return optionFunc(func(c *config) {
		if name == "" {
			c.errs = append(c.errs, errors.New("jobqueue: WithStream(\"\"): name the stream"))
			return
		}
		c.stream = name
	})
}

// WithPrefix sets the subject prefix of the queues: a job of queue q at
// level l is published on "<prefix>.ready.<q>.<l>", a scheduled one on
// "<prefix>.sched.<q>.<nuid>", a dead one on "<prefix>.dead.<q>", the run
// marker of a redelivered one on "<prefix>.started.<q>.<sequence>".
// Default: [DefaultPrefix].
func WithPrefix(prefix string) Option {
	return optionFunc(func(c *config) { c.prefix = prefix })
}

// WithReplicas sets the streams' replication factor in a cluster (1, 3 or
// 5). Default: 1.
func WithReplicas(n int) Option {
	return optionFunc(func(c *config) {
		if n < 1 {
			c.errs = append(c.errs, fmt.Errorf("jobqueue: WithReplicas(%d): must be >= 1", n))
			return
		}
		c.replicas = n
	})
}

// WithMemoryStorage sets where the streams are kept. WithMemoryStorage(true)
// keeps them in memory instead of files: faster, and lost when the server
// stops. Default: false.
func WithMemoryStorage(on bool) Option {
	return optionFunc(func(c *config) { c.memory = on })
}

// WithMaxAttempts sets how many times a job's handler may fail (return an
// error) before the job is dead, unless the job says otherwise
// ([MaxAttempts]). A run cut short by the death of its worker is no
// failure of the job: it counts against [WithMaxInterruptions] instead.
// Default: [DefaultMaxAttempts].
func WithMaxAttempts(n int) Option {
	return optionFunc(func(c *config) {
		if n < 1 {
			c.errs = append(c.errs, fmt.Errorf("jobqueue: WithMaxAttempts(%d): must be >= 1", n))
			return
		}
		c.maxAttempts = n
	})
}

// WithMaxInterruptions sets how many deliveries of a job may end without
// a result before the job is dead. A delivery ends without a result when
// the worker holding the job dies (kill -9, a crash, a power loss), is
// stopped before the handler returns, or misses the ack wait: the server
// hands the job out again, and cannot tell whether its handler had
// started. Such a delivery does not count against [WithMaxAttempts], which
// counts the handler's failures; it counts here, so that a job that kills
// its worker every time (a poison job) ends in the dead-letter stream
// after n crashes instead of crashing workers forever. The job is
// dead-lettered at its next delivery, without running, with an [Attempt]
// saying so in its history. A job that a dying worker held without
// running it (fetched, waiting: [WithPrefetch]) is charged for the first
// such delivery of each attempt only, as the worker marks the run of a
// redelivered job before its handler starts, and charges the later
// deliveries only for the marked runs. Default: [DefaultMaxInterruptions].
func WithMaxInterruptions(n int) Option {
	return optionFunc(func(c *config) {
		if n < 1 {
			c.errs = append(c.errs, fmt.Errorf("jobqueue: WithMaxInterruptions(%d): must be >= 1", n))
			return
		}
		c.maxIntr = n
	})
}

// WithAckWait sets how long the server waits for a worker's word on a job
// before handing it to another worker. Workers send a heartbeat every third
// of it while a job runs (or waits to run), so it bounds how long the jobs
// of a worker that died wait, not how long a job may run. Default:
// [DefaultAckWait].
func WithAckWait(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d < 100*time.Millisecond {
			c.errs = append(c.errs, fmt.Errorf("jobqueue: WithAckWait(%v): must be >= 100ms", d))
			return
		}
		c.ackWait = d
	})
}

// WithDedupWindow sets how long the stream remembers idempotency keys
// ([IdempotencyKey]). Default: [DefaultDedupWindow], the server's.
func WithDedupWindow(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d < 100*time.Millisecond {
			c.errs = append(c.errs, fmt.Errorf("jobqueue: WithDedupWindow(%v): must be >= 100ms", d))
			return
		}
		c.dedup = d
	})
}

// WithBackoff sets the waits between attempts. Default: [DefaultBackoff].
func WithBackoff(b Backoff) Option {
	return optionFunc(func(c *config) { c.backoff = b.withDefaults() })
}

// WithLogger sets the logger for what has no caller to return to: failed
// acknowledgements, heartbeats and dead-letter publishes. Default:
// [slog.Default].
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l == nil {
			c.errs = append(c.errs, errors.New("jobqueue: WithLogger(nil): pass a logger, or slog.New(slog.DiscardHandler) to discard"))
			return
		}
		c.logger = l
	})
}

// New returns a Queue on js, creating or updating its three streams: the
// work-queue stream of jobs, the stream of dead jobs ("<stream>_DEAD") and
// the run markers of redelivered jobs ("<stream>_STARTED", each kept a
// day; see [WithMaxInterruptions]). On a cluster that
// cannot place replicated streams yet (just formed, or a server
// restarting), it waits up to 15 seconds, within ctx, for one that can. It
// returns an error for invalid options and JetStream errors.
func New(ctx context.Context, js jetstream.JetStream, opts ...Option) (*Queue, error) {
	c := config{
		stream: DefaultStream, prefix: DefaultPrefix, replicas: 1,
		maxAttempts: DefaultMaxAttempts, maxIntr: DefaultMaxInterruptions, ackWait: DefaultAckWait, dedup: DefaultDedupWindow,
		backoff: DefaultBackoff, logger: slog.Default(),
	}
	if js == nil {
		c.errs = append(c.errs, errors.New("jobqueue: New with a nil JetStream"))
	}
	for _, o := range opts {
		if o == nil {
			c.errs = append(c.errs, errors.New("jobqueue: nil Option"))
			continue
		}
		o.apply(&c)
	}
	if err := errors.Join(c.errs...); err != nil {
		return nil, err
	}
	c.dead = c.stream + "_DEAD"
	c.started = c.stream + "_STARTED"
	storage := jetstream.FileStorage
	if c.memory {
		storage = jetstream.MemoryStorage
	}
	// Each stream waits for a cluster that cannot place it yet.
	create := func(cfg jetstream.StreamConfig) (jetstream.Stream, error) {
		s, err := placement.Create(ctx, func(ctx context.Context) (jetstream.Stream, error) {
			return js.CreateOrUpdateStream(ctx, cfg)
		})
		if err != nil {
			return nil, fmt.Errorf("jobqueue: stream %s: %w", cfg.Name, err)
		}
		return s, nil
	}
	s, err := create(jetstream.StreamConfig{
		Name:              c.stream,
		Description:       "ply job queues",
		Subjects:          []string{c.prefix + ".ready.>", c.prefix + ".sched.>"},
		Retention:         jetstream.WorkQueuePolicy,
		Storage:           storage,
		Replicas:          c.replicas,
		Duplicates:        c.dedup,
		AllowMsgSchedules: true,
		AllowRollup:       true, // required by schedules
	})
	if err != nil {
		return nil, err
	}
	if _, err := create(jetstream.StreamConfig{
		Name:        c.dead,
		Description: "ply dead jobs, with their error history",
		Subjects:    []string{c.prefix + ".dead.>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     storage,
		Replicas:    c.replicas,
	}); err != nil {
		return nil, err
	}
	started, err := create(jetstream.StreamConfig{
		Name:              c.started,
		Description:       "ply job runs started by redelivery, to count the interrupted ones",
		Subjects:          []string{c.prefix + ".started.>"},
		Retention:         jetstream.LimitsPolicy,
		MaxMsgsPerSubject: 1,
		MaxAge:            startedMaxAge,
		Storage:           storage,
		Replicas:          c.replicas,
	})
	if err != nil {
		return nil, err
	}
	return &Queue{js: js, cfg: c, stream: s, started: started, workers: make(map[string]*worker)}, nil
}

func (q *Queue) readySubject(queue string, l Level) string {
	if s, ok := q.subjects.Load(queue); ok {
		return s.(*[len(levels)]string)[l] // l is valid: checked by callers
	}
	var s [len(levels)]string
	for _, l := range levels {
		s[l] = q.cfg.prefix + ".ready." + queue + "." + "012"[l:l+1]
	}
	if len(queue) <= 64 { // the queues a program uses, not every name it was given
		q.subjects.Store(queue, &s)
	}
	return s[l]
}

func (q *Queue) schedSubject(queue, token string) string {
	return q.cfg.prefix + ".sched." + queue + "." + token
}

func (q *Queue) deadSubject(queue string) string { return q.cfg.prefix + ".dead." + queue }

// startedSubject is where the run marker of the job message with stream
// sequence seq is kept.
func (q *Queue) startedSubject(queue string, seq uint64) string {
	return q.cfg.prefix + ".started." + queue + "." + strconv.FormatUint(seq, 10)
}

// startedMaxAge is how long a run marker is kept after its last run
// started: a job redelivered after longer loses the count of its runs.
const startedMaxAge = 24 * time.Hour

// validQueue reports whether name can be a queue: one subject token of
// letters, digits, '-' and '_'.
func validQueue(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
		default:
			return false
		}
	}
	return true
}

// Stop stops every worker of q (see [Queue.Handle]): they fetch no more
// jobs, and Stop waits for the jobs they hold (running, or fetched and
// waiting for a slot: at most concurrency + prefetch) to finish. If ctx is done first,
// the running handlers' contexts are cancelled, Stop still waits for them
// to return, their jobs are left unacknowledged (so the server hands them
// out again after the ack wait, each delivery counting as an interruption:
// see [WithMaxInterruptions]), and Stop returns ctx's error. After Stop,
// Handle returns [ErrStopped]; Enqueue still works. Stop is idempotent.
func (q *Queue) Stop(ctx context.Context) error {
	q.mu.Lock()
	q.stopped = true
	ws := make([]*worker, 0, len(q.workers))
	for _, w := range q.workers {
		ws = append(ws, w)
	}
	q.mu.Unlock()
	for _, w := range ws {
		w.stopFetching()
	}
	var first error
	for _, w := range ws {
		if err := w.wait(ctx); err != nil && first == nil {
			first = err
		}
		if w.drainStarted() {
			// Its Handle's ctx is done: its drain, whose wait ends with
			// the one above, has only to give up the queue.
			<-w.drained
		}
	}
	return first
}
