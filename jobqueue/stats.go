package jobqueue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrNoDeadJob is returned when [Queue.RetryDead] or [Queue.DiscardDead] gets a
// sequence that names no dead job of that queue (another operator retried
// or discarded it, or it never was one).
var ErrNoDeadJob = errors.New("jobqueue: no such dead job")

// Stats are one queue's figures, as [Queue.Stats] reports them.
type Stats struct {
	Queue string `json:"queue"`
	// Pending counts the jobs ready to run, in the stream: waiting, held by
	// a worker, or running (a job leaves the stream once it is done).
	Pending uint64 `json:"pending"`
	// Scheduled counts the jobs waiting for their time: delayed, or a retry
	// waiting for its backoff.
	Scheduled uint64 `json:"scheduled"`
	// Dead counts the jobs in the dead-letter stream.
	Dead uint64 `json:"dead"`
	// Running, Done, Retried and DeadLettered are this process's workers'
	// figures since the Queue was created: jobs running now, jobs that
	// succeeded, failed attempts scheduled again, and jobs dead-lettered.
	Running      int64  `json:"running"`
	Done         uint64 `json:"done"`
	Retried      uint64 `json:"retried"`
	DeadLettered uint64 `json:"deadLettered"`
}

// counts are a queue's figures in this process, kept by its workers.
type counts struct {
	running                     atomic.Int64
	done, retried, deadLettered atomic.Uint64
}

// countsOf returns queue's counts, made on first use.
func (q *Queue) countsOf(queue string) *counts {
	if c, ok := q.counts.Load(queue); ok {
		return c.(*counts)
	}
	c, _ := q.counts.LoadOrStore(queue, new(counts))
	return c.(*counts)
}

// Queues returns the names of the queues this Queue runs handlers for
// ([Queue.Handle]), sorted.
func (q *Queue) Queues() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]string, 0, len(q.workers))
	for name := range q.workers {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Stats returns the figures of each named queue, in the order given; with
// no names, of every queue this Queue runs handlers for. It asks the
// server for the counts in the streams (two requests per queue), so call it
// on an operator's request or a timer, not per job.
func (q *Queue) Stats(ctx context.Context, queues ...string) ([]Stats, error) {
	if len(queues) == 0 {
		queues = q.Queues()
	}
	dead, err := q.js.Stream(ctx, q.cfg.dead)
	if err != nil {
		return nil, fmt.Errorf("jobqueue: dead-letter stream: %w", err)
	}
	out := make([]Stats, len(queues))
	for i, name := range queues {
		if !validQueue(name) {
			return nil, fmt.Errorf("jobqueue: queue %q: %w", name, ErrInvalidQueue)
		}
		s := Stats{Queue: name}
		info, err := q.stream.Info(ctx, jetstream.WithSubjectFilter(q.cfg.prefix+".*."+name+".*"))
		if err != nil {
			return nil, fmt.Errorf("jobqueue: stats of %s: %w", name, err)
		}
		for subj, n := range info.State.Subjects {
			if subj == q.readySubject(name, High) || subj == q.readySubject(name, Normal) || subj == q.readySubject(name, Low) {
				s.Pending += n
			} else {
				s.Scheduled += n
			}
		}
		dinfo, err := dead.Info(ctx, jetstream.WithSubjectFilter(q.deadSubject(name)))
		if err != nil {
			return nil, fmt.Errorf("jobqueue: stats of %s: %w", name, err)
		}
		s.Dead = dinfo.State.Subjects[q.deadSubject(name)]
		c := q.countsOf(name)
		s.Running, s.Done, s.Retried, s.DeadLettered = c.running.Load(), c.done.Load(), c.retried.Load(), c.deadLettered.Load()
		out[i] = s
	}
	return out, nil
}

// Sequence returns the stream sequence of the message j was read from: for
// a job from [Queue.Dead], its place in the dead-letter stream, which
// [Queue.RetryDead] and [Queue.DiscardDead] take.
func (j *Job) Sequence() uint64 { return j.seq }

// RetryDead moves the dead job at sequence seq of queue's dead letters
// back to the queue, at its level, with a new set of attempts; its history
// is kept, so the next failure shows the earlier ones. It returns the job's
// ID. Retrying the same dead job twice within the dedup window enqueues it
// once. It returns an error matching [ErrNoDeadJob] when seq is not a dead
// job of queue.
func (q *Queue) RetryDead(ctx context.Context, queue string, seq uint64) (string, error) {
	dead, m, err := q.deadMsg(ctx, queue, seq)
	if err != nil {
		return "", err
	}
	level := Normal
	if l, err := strconv.Atoi(m.Header.Get(hdrPriority)); err == nil && l >= int(High) && l <= int(Low) {
		level = Level(l)
	}
	h := nats.Header{}
	for k, v := range m.Header {
		switch k {
		case hdrAttempts, hdrInterrupted, hdrPriority:
		default:
			if len(k) <= 4 || k[:4] != "Nats" {
				h[k] = v
			}
		}
	}
	h.Set(nats.MsgIdHdr, "ply-dead-retry-"+q.cfg.dead+"-"+strconv.FormatUint(seq, 10))
	if _, err := q.js.PublishMsg(ctx, &nats.Msg{Subject: q.readySubject(queue, level), Header: h, Data: m.Data}); err != nil {
		return "", fmt.Errorf("jobqueue: retry dead job %d of %s: %w", seq, queue, err)
	}
	if err := dead.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return "", fmt.Errorf("jobqueue: retried dead job %d of %s, but it stays in the dead letters: %w", seq, queue, err)
	}
	return m.Header.Get(hdrID), nil
}

// DiscardDead removes the dead job at sequence seq of queue's dead
// letters for good. It returns an error matching [ErrNoDeadJob] when seq
// is not a dead job of queue.
func (q *Queue) DiscardDead(ctx context.Context, queue string, seq uint64) error {
	dead, _, err := q.deadMsg(ctx, queue, seq)
	if err != nil {
		return err
	}
	if err := dead.DeleteMsg(ctx, seq); err != nil {
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("jobqueue: dead job %d of %s: %w", seq, queue, ErrNoDeadJob)
		}
		return fmt.Errorf("jobqueue: discard dead job %d of %s: %w", seq, queue, err)
	}
	return nil
}

// deadMsg reads the dead letter at seq, checking that it is queue's.
func (q *Queue) deadMsg(ctx context.Context, queue string, seq uint64) (jetstream.Stream, *jetstream.RawStreamMsg, error) {
	if !validQueue(queue) {
		return nil, nil, fmt.Errorf("jobqueue: queue %q: %w", queue, ErrInvalidQueue)
	}
	dead, err := q.js.Stream(ctx, q.cfg.dead)
	if err != nil {
		return nil, nil, fmt.Errorf("jobqueue: dead-letter stream: %w", err)
	}
	m, err := dead.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) || (err == nil && m.Subject != q.deadSubject(queue)) {
		return nil, nil, fmt.Errorf("jobqueue: dead job %d of %s: %w", seq, queue, ErrNoDeadJob)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("jobqueue: read dead job %d of %s: %w", seq, queue, err)
	}
	return dead, m, nil
}
