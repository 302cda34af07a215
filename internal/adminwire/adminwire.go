// Package adminwire adapts a host's job queue and event bus to what the
// admin page needs ([admin.Jobs]): the wiring that ply run and the example
// gateway share, kept out of the feature packages, which do not import
// each other.
package adminwire

import (
	"context"
	"errors"
	"fmt"

	"github.com/plykit/ply"
	"github.com/plykit/ply/admin"
	"github.com/plykit/ply/eventbus"
	"github.com/plykit/ply/jobqueue"
)

// Jobs returns the host's job queue and event bus as [admin.Jobs]. It
// looks them up on every call, so it works before the host started and
// across reloads that replace them; a host without them, or with them lazy
// and not loaded yet, has no queues and no topics.
func Jobs(h *ply.Host) admin.Jobs { return jobs{h} }

type jobs struct{ h *ply.Host }

// loaded reports whether the plugin named name is registered and not a
// lazy plugin still waiting for its first use: looking up its API would
// load it, and a page view must not.
func (j jobs) loaded(name string) bool {
	for _, st := range j.h.Health(context.Background()) { // cached: the overview asks as often
		if st.Name == name {
			return st.State != ply.StateLazy && st.State != ply.StateLoading
		}
	}
	return false
}

func (j jobs) queue() (*jobqueue.Queue, error) {
	if !j.loaded(jobqueue.Key.Plugin()) {
		return nil, nil
	}
	q, err := ply.Lookup(j.h, jobqueue.Key)
	if errors.Is(err, ply.ErrNotRegistered) {
		return nil, nil
	}
	return q, err
}

func (j jobs) Queues(ctx context.Context) ([]admin.Queue, error) {
	q, err := j.queue()
	if q == nil || err != nil {
		return nil, err
	}
	stats, err := q.Stats(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]admin.Queue, len(stats))
	for i, s := range stats {
		out[i] = admin.Queue{Name: s.Queue, Pending: s.Pending, Scheduled: s.Scheduled, Running: s.Running, Done: s.Done,
			Retried: s.Retried, DeadLettered: s.DeadLettered, Dead: s.Dead}
	}
	return out, nil
}

func (j jobs) Dead(ctx context.Context, queue string, limit int) ([]admin.DeadJob, error) {
	q, err := j.queue()
	if err != nil {
		return nil, err
	}
	if q == nil {
		return nil, fmt.Errorf("no job queue: %w", admin.ErrNotFound)
	}
	dead, err := q.Dead(ctx, queue, limit)
	if err != nil {
		return nil, wrap(err)
	}
	out := make([]admin.DeadJob, len(dead))
	for i, d := range dead {
		out[i] = admin.DeadJob{Seq: d.Sequence(), ID: d.ID, Attempts: d.Attempt, Enqueued: d.Enqueued, Payload: cut(string(d.Payload))}
		if n := len(d.History); n > 0 {
			out[i].Error = d.History[n-1].Error
		}
	}
	return out, nil
}

func (j jobs) RetryDead(ctx context.Context, queue string, seq uint64) error {
	q, err := j.queue()
	if err != nil {
		return err
	}
	if q == nil {
		return fmt.Errorf("no job queue: %w", admin.ErrNotFound)
	}
	_, err = q.RetryDead(ctx, queue, seq)
	return wrap(err)
}

func (j jobs) DiscardDead(ctx context.Context, queue string, seq uint64) error {
	q, err := j.queue()
	if err != nil {
		return err
	}
	if q == nil {
		return fmt.Errorf("no job queue: %w", admin.ErrNotFound)
	}
	return wrap(q.DiscardDead(ctx, queue, seq))
}

func (j jobs) Topics(context.Context) ([]admin.Topic, error) {
	if !j.loaded(eventbus.Key.Plugin()) {
		return nil, nil
	}
	bus, err := ply.Lookup(j.h, eventbus.Key)
	if errors.Is(err, ply.ErrNotRegistered) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	subs := bus.Subscriptions()
	out := make([]admin.Topic, len(subs))
	for i, s := range subs {
		out[i] = admin.Topic{Subject: s.Subject, Async: s.Async, Remote: s.Remote, Dropped: s.Dropped}
	}
	return out, nil
}

// wrap makes the queue's not-found errors the admin's, which answer 404.
func wrap(err error) error {
	if errors.Is(err, jobqueue.ErrNoDeadJob) || errors.Is(err, jobqueue.ErrInvalidQueue) {
		return fmt.Errorf("%w: %w", admin.ErrNotFound, err)
	}
	return err
}

func cut(s string) string {
	if len(s) > 256 {
		return s[:256] + "…"
	}
	return s
}
