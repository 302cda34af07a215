package jobqueue

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/plykit/ply"
	"github.com/plykit/ply/internal/placement"
)

// A HandleOption configures the workers of one queue.
type HandleOption interface{ applyHandle(*handleConfig) }

type handleOptionFunc func(*handleConfig)

func (f handleOptionFunc) applyHandle(c *handleConfig) { f(c) }

// defaultPrefetch is WithPrefetch's default: with 4 producers saturating
// a queue on a shared 2-core machine, 16 and 64 left the workers behind
// (enqueue-to-handler p50 of 0.5 s and 10-60 ms), 128 nearly not, 256 not
// (BenchmarkJobs).
const defaultPrefetch = 256

type handleConfig struct {
	concurrency int
	prefetch    int
	idle        time.Duration
}

// WithConcurrency sets how many jobs of the queue run at once in this
// process. Default: 1.
func WithConcurrency(n int) HandleOption {
	return handleOptionFunc(func(c *handleConfig) { c.concurrency = n })
}

// WithPrefetch sets how many jobs a worker holds beyond those running, to
// hide the round trip of its pulls: a worker asks the server for more
// jobs whenever half of its room (concurrency + prefetch) is free, and
// keeps its pulls in flight while the held jobs run, as jetstream's
// Consume does with its buffer (500 by default). With short jobs, the
// throughput of a worker is about its room per round trip. Held jobs run
// highest level first, are kept alive by heartbeats while they wait, and
// wait for this process only: with long jobs and several processes, a
// lower prefetch spreads them better (0 holds only the running ones).
// Default: 256.
func WithPrefetch(n int) HandleOption {
	return handleOptionFunc(func(c *handleConfig) { c.prefetch = n })
}

// WithIdleWait sets how long an idle worker waits on the [Normal] level for
// a job before it looks at every level again: the most a [High] or [Low]
// job waits for an idle worker. Default: 200ms, and at most a third of the
// ack wait.
func WithIdleWait(d time.Duration) HandleOption {
	return handleOptionFunc(func(c *handleConfig) { c.idle = d })
}

// Handle starts workers that run h for the jobs of queue, and returns once
// they are fetching. The workers take jobs from the highest level that has
// some, run at most [WithConcurrency] at once, acknowledge a job only
// after h returned nil, and heartbeat running jobs so that the ack wait
// does not expire under a long job. See [Handler] for what h's result does.
//
// The workers stop with [Queue.Stop], or when ctx is done: then they drain
// as in Stop, fetching no more jobs while the running ones (and those
// fetched and waiting) finish; a job they did not finish stays in the
// stream, to be handed out again. A later Handle of the same queue waits,
// within its own ctx, for the workers of a done ctx to drain. Pass
// [context.WithoutCancel] for workers that only Stop ends.
//
// Handle returns [ErrInvalidQueue], [ErrHandled] for a second handler of the
// same queue, [ErrStopped], an option error, ctx's error, JetStream's
// error creating the queue's consumers (durable, named "<queue>_<level>",
// shared by every process handling the queue), or the connection's error
// subscribing to the replies of the workers' pulls.
func (q *Queue) Handle(ctx context.Context, queue string, h Handler, opts ...HandleOption) error {
	if !validQueue(queue) {
		return fmt.Errorf("jobqueue: queue %q: %w", queue, ErrInvalidQueue)
	}
	if h == nil {
		return errors.New("jobqueue: Handle with a nil Handler")
	}
	c := handleConfig{concurrency: 1, prefetch: defaultPrefetch, idle: 200 * time.Millisecond}
	for _, o := range opts {
		if o != nil {
			o.applyHandle(&c)
		}
	}
	switch {
	case c.concurrency < 1:
		return fmt.Errorf("jobqueue: WithConcurrency(%d): must be >= 1", c.concurrency)
	case c.prefetch < 0:
		return fmt.Errorf("jobqueue: WithPrefetch(%d): must be >= 0", c.prefetch)
	case c.idle < 10*time.Millisecond:
		return fmt.Errorf("jobqueue: WithIdleWait(%v): must be >= 10ms", c.idle)
	}
	q.mu.Lock()
	for {
		prev := q.workers[queue]
		switch {
		case q.stopped:
			q.mu.Unlock()
			return ErrStopped
		case prev == nil:
		case prev.draining():
			q.mu.Unlock() // wait for the workers of a done ctx to drain
			select {
			case <-prev.drained:
			case <-ctx.Done():
				return fmt.Errorf("jobqueue: queue %s: %w", queue, context.Cause(ctx))
			}
			q.mu.Lock()
			continue
		default:
			q.mu.Unlock()
			return fmt.Errorf("jobqueue: queue %s: %w", queue, ErrHandled)
		}
		break
	}
	c.idle = min(c.idle, q.cfg.ackWait/3) // the fetch loop heartbeats between fetches
	w := &worker{q: q, queue: queue, h: h, cfg: c, handleDone: ctx.Done(), drained: make(chan struct{}), counts: q.countsOf(queue)}
	q.workers[queue] = w // reserved; removed below on failure
	q.mu.Unlock()

	fail := func(err error) error {
		q.mu.Lock()
		delete(q.workers, queue)
		q.mu.Unlock()
		close(w.drained) // for a Handle waiting for this reservation
		return err
	}
	for _, l := range levels {
		cfg := jetstream.ConsumerConfig{
			Durable:       w.consumerName(l),
			FilterSubject: q.readySubject(queue, l),
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       q.cfg.ackWait,
			MaxDeliver:    -1, // attempts are counted by the workers, which dead-letter
			MaxAckPending: 10_000,
		}
		// A cluster electing a leader leaves the request unanswered for a
		// while: wait for it, as for the streams, rather than fail the host.
		if _, err := placement.Create(ctx, func(ctx context.Context) (jetstream.Consumer, error) {
			return q.stream.CreateOrUpdateConsumer(ctx, cfg)
		}); err != nil {
			return fail(fmt.Errorf("jobqueue: consumer for %s %v: %w", queue, l, err))
		}
	}
	if err := w.subscribe(); err != nil {
		return fail(fmt.Errorf("jobqueue: subscribe for %s: %w", queue, err))
	}
	w.start(ctx)
	w.unwatch = context.AfterFunc(ctx, w.drain)
	return nil
}

// drain stops the workers when their Handle's ctx is done: they finish
// what they hold, and then give up the queue for a later Handle.
func (w *worker) drain() {
	w.stopFetching()                 // done already, as fetchCtx is ctx's child
	_ = w.wait(context.Background()) // without a deadline, it only returns nil
	w.q.mu.Lock()
	if w.q.workers[w.queue] == w {
		delete(w.q.workers, w.queue)
	}
	w.q.mu.Unlock()
	close(w.drained)
}

// drainStarted stops the drain on Handle's ctx unless it started, and
// reports whether it did; every call answers as the first.
func (w *worker) drainStarted() bool {
	w.watchOnce.Do(func() { w.drainRan = !w.unwatch() })
	return w.drainRan
}

// draining reports whether the workers' Handle ctx is done.
func (w *worker) draining() bool {
	select {
	case <-w.handleDone:
		return true
	default:
		return false
	}
}

// worker fetches the jobs of one queue and runs them.
type worker struct {
	q      *Queue
	queue  string
	h      Handler
	cfg    handleConfig
	sub    *nats.Subscription // the pulls' replies, to deliver
	counts *counts            // the queue's figures in this process (Stats)
	cbDone chan struct{}      // 1: deliver's send ended after unsubscribe

	fetchCtx    context.Context // Handle's ctx's child, cancelled by stopFetching
	stopFetch   context.CancelFunc
	runCtx      context.Context // handlers' parent, cancelled when Stop's ctx is done
	cancelRuns  context.CancelFunc
	ready       [len(levels)]chan *held // held jobs waiting for a runner, by level; capacity() each, so deliver rarely waits
	news        chan struct{}           // 1: refill() slots are free, or a pull ended
	fetcherDone chan struct{}
	runners     sync.WaitGroup // WithConcurrency goroutines running jobs from ready

	unwatch    func() bool     // stops the drain on Handle's ctx; false once it started
	watchOnce  sync.Once       // for drainStarted
	drainRan   bool            // set once by drainStarted
	handleDone <-chan struct{} // Handle's ctx.Done()
	drained    chan struct{}   // closed when drain has finished

	mu          sync.Mutex
	held        map[*held]struct{}
	pulls       [len(levels)]levelPulls
	pullID      uint64    // the last pull's
	highEmpty   time.Time // when High was last asked, or found empty; zero: it had jobs
	normalEmpty bool      // a Normal pull expired without a job since Low was last asked
	subClosed   bool      // deliver holds no more jobs
	cbActive    bool      // deliver is sending a job to ready without w.mu
}

// held is a fetched job not yet acknowledged: waiting for a slot or
// running. The heartbeat loop keeps it alive.
type held struct {
	msg   delivery
	level Level
	since time.Time // fetched, or last heartbeat
	job   Job       // read from msg by run; here to save an allocation
}

// start runs the workers; they stop fetching as soon as ctx is done.
func (w *worker) start(ctx context.Context) {
	w.fetchCtx, w.stopFetch = context.WithCancel(ctx)

	w.runCtx, w.cancelRuns = context.WithCancel(context.Background())
	for l := range w.ready {
		w.ready[l] = make(chan *held, w.capacity())
	}
	w.news = make(chan struct{}, 1)
	w.fetcherDone = make(chan struct{})
	w.held = make(map[*held]struct{})
	for range w.cfg.concurrency {
		w.runners.Go(func() {
			ready := w.ready
			for {
				hj := nextHeld(&ready)
				if hj == nil {
					return
				}
				w.run(hj)
			}
		})
	}
	go w.fetchLoop()
}

// nextHeld returns the held job of the highest level that has one, waiting
// for one if none has; nil once every channel of ready is closed and
// drained. It sets the closed ones to nil.
func nextHeld(ready *[len(levels)]chan *held) *held {
	for l, ch := range ready {
		if ch == nil {
			continue
		}
		select {
		case hj, ok := <-ch:
			if ok {
				return hj
			}
			ready[l] = nil
		default:
		}
	}
	for ready[High] != nil || ready[Normal] != nil || ready[Low] != nil {
		var hj *held
		var ok bool
		var l Level
		select {
		case hj, ok = <-ready[High]:
			l = High
		case hj, ok = <-ready[Normal]:
			l = Normal
		case hj, ok = <-ready[Low]:
			l = Low
		}
		if ok {
			return hj
		}
		ready[l] = nil
	}
	return nil
}

func (w *worker) stopFetching() { w.stopFetch() }

// wait returns once the fetch loop and every held job have finished. When
// ctx is done first, it cancels the running handlers and still waits.
func (w *worker) wait(ctx context.Context) error {
	all := make(chan struct{})
	go func() {
		<-w.fetcherDone
		w.runners.Wait()
		close(all)
	}()
	select {
	case <-all:
		w.cancelRuns()
		return nil
	case <-ctx.Done():
		w.cancelRuns()
		<-all
		return fmt.Errorf("jobqueue: stop %s: %w", w.queue, context.Cause(ctx))
	}
}

func (w *worker) capacity() int { return w.cfg.concurrency + w.cfg.prefetch }

// refill is how many free slots a worker holding jobs waits for before it
// fetches again: half its capacity, so that each fetch round trip brings
// many jobs while the runners work through the other half.
func (w *worker) refill() int { return (w.capacity() + 1) / 2 }

// heartbeat tells the server that the held jobs are still being worked on,
// once per third of the ack wait each.
func (w *worker) heartbeat() {
	now := time.Now()
	w.mu.Lock()
	var due []delivery
	for hj := range w.held {
		if now.Sub(hj.since) >= w.q.cfg.ackWait/3 {
			hj.since = now
			due = append(due, hj.msg)
		}
	}
	w.mu.Unlock()
	for _, m := range due {
		if err := m.InProgress(); err != nil {
			w.q.cfg.logger.Warn("jobqueue: heartbeat", "queue", w.queue, "err", err)
		}
	}
}

// run runs a held job and settles it.
func (w *worker) run(hj *held) {
	defer func() {
		w.mu.Lock()
		delete(w.held, hj)
		free := w.free()
		w.mu.Unlock()
		if free == w.refill() { // the fetch loop waits for this, or more room
			w.notify()
		}
	}()
	if w.runCtx.Err() != nil { // stopped hard before it ran: leave it to the ack wait
		return
	}
	m := hj.msg
	j := &hj.job
	timeout, err := w.q.parseInto(j, w.queue, hj.level, m)
	if err != nil {
		w.q.cfg.logger.Error("jobqueue: unreadable job message", "queue", w.queue, "err", err)
		_ = m.Term()
		return
	}
	started := w.charge(j)
	if j.Interrupted >= w.q.cfg.maxIntr { // a poison job, or workers that keep dying
		w.dead(j, append(j.History, Attempt{Attempt: j.Attempt, Time: time.Now().UTC(), Error: fmt.Sprintf(
			"no result in %d deliveries: each time, the worker died or stopped, or the ack wait expired", j.Interrupted)}))
		return
	}
	if j.delivered > 1 {
		w.markStarted(j, started+1)
	}
	w.counts.running.Add(1)
	err = w.invoke(j, timeout)
	w.counts.running.Add(-1)
	switch {
	case err == nil:
		w.counts.done.Add(1)
		if err := m.Ack(); err != nil {
			w.q.cfg.logger.Warn("jobqueue: ack (the job may run again)", "queue", w.queue, "job", j.ID, "err", err)
		}
	case w.runCtx.Err() != nil: // stopped hard: not the job's fault
		_ = m.Nak()
	default:
		history := j.History
		history = append(history, Attempt{Attempt: j.Attempt, Time: time.Now().UTC(), Error: truncate(err.Error())})
		if errors.Is(err, ErrPermanent) || j.Attempt >= j.MaxAttempts {
			w.dead(j, history)
		} else {
			w.retry(j, history, w.q.cfg.backoff.Delay(j.Attempt, rand.Float64())) //nolint:gosec // jitter for the retry backoff, not a secret
		}
	}
}

// charge adds to j.Interrupted the earlier deliveries of j's message, which
// all ended without a result (or the message would have been acknowledged
// or replaced by a retry), and returns how many of them started the
// handler. The server cannot tell a job that was running from one the
// worker had fetched and not started, so a redelivered job's run is marked
// (markStarted) before its handler starts: then an interruption is charged
// for the first delivery, in doubt, and for each marked run. The first
// delivery is not marked, which would cost every job a write; so a job
// held, not run, by crashing workers is charged once per message, not once
// per crash, while a job that crashes its workers is charged for each.
func (w *worker) charge(j *Job) (started int) {
	if j.delivered <= 1 {
		return 0
	}
	m, err := w.q.started.GetLastMsgForSubject(w.runCtx, w.q.startedSubject(w.queue, j.seq))
	switch {
	case err == nil:
		started, _ = strconv.Atoi(string(m.Data)) // written by markStarted
	case !errors.Is(err, jetstream.ErrMsgNotFound):
		// Counted as if no run started: a job that crashes its workers
		// while this fails is charged only for its first delivery.
		w.q.cfg.logger.Warn("jobqueue: read run marker", "queue", w.queue, "job", j.ID, "err", err)
	}
	j.Interrupted += 1 + started
	return started
}

// markStarted records that the run number started of j's message starts,
// before it does: if the worker dies in it, the next delivery is charged
// for it (see charge).
func (w *worker) markStarted(j *Job, started int) {
	subj := w.q.startedSubject(w.queue, j.seq)
	if _, err := w.q.js.Publish(w.runCtx, subj, []byte(strconv.Itoa(started))); err != nil {
		w.q.cfg.logger.Warn("jobqueue: write run marker (a crash in this run is not charged)", "queue", w.queue, "job", j.ID, "err", err)
	}
}

// invoke is the one place a handler runs: under the job's timeout and
// recover.
func (w *worker) invoke(j *Job, timeout time.Duration) (err error) {
	ctx := w.runCtx
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	defer func() {
		if p := recover(); p != nil {
			err = &ply.PanicError{Value: p, Stack: debug.Stack()}
		}
	}()
	return w.h(ctx, j)
}

// retry schedules the next attempt after delay, with the history, then
// acknowledges this one. A crash in between runs the job once more.
func (w *worker) retry(j *Job, history []Attempt, delay time.Duration) {
	m, err := next(j, history)
	if err == nil {
		m.Subject = w.q.readySubject(w.queue, j.Priority)
		schedule(m, w.q.schedSubject(w.queue, nuid.Next()), time.Now().Add(delay))
		_, err = w.q.js.PublishMsg(context.WithoutCancel(w.runCtx), m)
	}
	if err != nil {
		// Fall back on the server's redelivery; the history of this attempt
		// is lost, and the redelivery counts as an interruption.
		w.q.cfg.logger.Error("jobqueue: schedule retry", "queue", w.queue, "job", j.ID, "err", err)
		_ = j.msg.NakWithDelay(delay)
		return
	}
	w.counts.retried.Add(1)
	if err := j.msg.Ack(); err != nil {
		w.q.cfg.logger.Warn("jobqueue: ack after retry scheduled (the job may run twice)", "queue", w.queue, "job", j.ID, "err", err)
	}
}

// dead publishes the job with its history to the dead-letter stream, then
// acknowledges it.
func (w *worker) dead(j *Job, history []Attempt) {
	m, err := next(j, history)
	if err == nil {
		m.Subject = w.q.deadSubject(w.queue)
		m.Header.Set(hdrPriority, strconv.Itoa(int(j.Priority)))
		_, err = w.q.js.PublishMsg(context.WithoutCancel(w.runCtx), m)
	}
	if err != nil {
		w.q.cfg.logger.Error("jobqueue: dead-letter (the job will be redelivered)", "queue", w.queue, "job", j.ID, "err", err)
		_ = j.msg.Nak()
		return
	}
	w.counts.deadLettered.Add(1)
	if err := j.msg.Ack(); err != nil {
		w.q.cfg.logger.Warn("jobqueue: ack after dead-letter", "queue", w.queue, "job", j.ID, "err", err)
	}
}
