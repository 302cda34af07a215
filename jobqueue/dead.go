package jobqueue

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
)

// Dead returns up to limit dead jobs of queue, oldest first: jobs whose
// last attempt failed, or that failed with [ErrPermanent]. Each has its
// payload, its metadata, its History (one [Attempt] per failed attempt
// with its error and time, the last one saying why the job is dead),
// Attempt (the number of the last attempt) and Interrupted. The
// dead-letter stream keeps them until an operator removes them (it is a
// plain JetStream stream, "<stream>_DEAD", subject "<prefix>.dead.<queue>").
func (q *Queue) Dead(ctx context.Context, queue string, limit int) ([]*Job, error) {
	if !validQueue(queue) {
		return nil, fmt.Errorf("jobqueue: queue %q: %w", queue, ErrInvalidQueue)
	}
	c, err := q.js.OrderedConsumer(ctx, q.cfg.dead, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{q.deadSubject(queue)},
	})
	if err != nil {
		return nil, fmt.Errorf("jobqueue: read dead jobs of %s: %w", queue, err)
	}
	var jobs []*Job
	for len(jobs) < limit {
		b, err := c.FetchNoWait(limit - len(jobs))
		if err != nil {
			return jobs, fmt.Errorf("jobqueue: read dead jobs of %s: %w", queue, err)
		}
		n := 0
		for m := range b.Messages() {
			n++
			l, _ := strconv.Atoi(m.Headers().Get(hdrPriority))
			j, _, err := q.parse(queue, Level(l), m)
			if err != nil {
				return jobs, err
			}
			j.Attempt-- // parse numbers the attempt after the recorded ones
			j.msg = nil
			jobs = append(jobs, j)
		}
		if err := b.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return jobs, fmt.Errorf("jobqueue: read dead jobs of %s: %w", queue, err)
		}
		if n == 0 {
			break
		}
	}
	return jobs, nil
}
