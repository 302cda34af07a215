package kv

import (
	"context"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// Op says what an [Event] did to its key.
type Op int

// The operations an [Event] reports.
const (
	OpPut    Op = iota // the key was set
	OpDelete           // the key was deleted
	OpPurge            // the key was purged, or expired
)

func (o Op) String() string {
	switch o {
	case OpDelete:
		return "delete"
	case OpPurge:
		return "purge"
	default:
		return "put"
	}
}

// Event is a change seen by a [Watcher]. Value is nil unless Op is [OpPut].
type Event struct {
	Entry
	Op Op
}

// A WatchOption configures [Store.Watch].
type WatchOption interface{ applyWatch(*watchConfig) }

type watchFunc func(*watchConfig)

func (f watchFunc) applyWatch(c *watchConfig) { f(c) }

type watchConfig struct{ updatesOnly bool }

// WithUpdatesOnly skips the current values: the watcher sends only the
// changes made after Watch returned. Default: false, the current value of
// every matching key comes first.
func WithUpdatesOnly(only bool) WatchOption {
	return watchFunc(func(c *watchConfig) { c.updatesOnly = only })
}

// Watcher delivers the changes to some keys of a [Store], in revision
// order, on [Watcher.Updates]. It runs until Stop is called or the context
// given to Watch is done. Its methods are safe for concurrent use.
type Watcher struct {
	c    chan Event
	stop chan struct{}
	once sync.Once
	done chan struct{}
}

// Watch watches the keys matching pattern: a key, or a pattern with the
// wildcards '*' (one token between dots) and '>' (the rest), such as
// "users.*" or ">" for every key. Unless [WithUpdatesOnly], the current
// value of each matching key is sent first (deleted keys are skipped).
func (s *Store) Watch(ctx context.Context, pattern string, opts ...WatchOption) (*Watcher, error) {
	var c watchConfig
	for _, o := range opts {
		if o != nil {
			o.applyWatch(&c)
		}
	}
	var jopts []jetstream.WatchOpt
	if c.updatesOnly {
		jopts = append(jopts, jetstream.UpdatesOnly())
	}
	kw, err := s.kv.Watch(ctx, pattern, jopts...)
	if err != nil {
		return nil, s.err("watch", pattern, err)
	}
	w := &Watcher{c: make(chan Event), stop: make(chan struct{}), done: make(chan struct{})}
	go w.run(ctx, kw)
	return w, nil
}

func (w *Watcher) run(ctx context.Context, kw jetstream.KeyWatcher) {
	defer close(w.done)
	defer close(w.c)
	defer func() { _ = kw.Stop() }()
	for {
		var e jetstream.KeyValueEntry
		select {
		case <-ctx.Done():
			return
		case <-w.stop:
			return
		case je, ok := <-kw.Updates():
			if !ok {
				return
			}
			e = je
		}
		if e == nil {
			continue // the end of the current values
		}
		ev := Event{Entry: Entry{Key: e.Key(), Revision: e.Revision(), Created: e.Created()}}
		switch e.Operation() {
		case jetstream.KeyValueDelete:
			ev.Op = OpDelete
		case jetstream.KeyValuePurge:
			ev.Op = OpPurge
		default:
			ev.Op, ev.Value = OpPut, e.Value()
		}
		select {
		case w.c <- ev:
		case <-ctx.Done():
			return
		case <-w.stop:
			return
		}
	}
}

// Updates returns the channel of events. It is closed when the watcher
// stops.
func (w *Watcher) Updates() <-chan Event { return w.c }

// Stop stops the watcher and waits until its goroutine has returned. It is
// idempotent.
func (w *Watcher) Stop() {
	w.once.Do(func() { close(w.stop) })
	<-w.done
}

// Done is closed once the watcher has stopped (Stop, or the context given
// to Watch was done).
func (w *Watcher) Done() <-chan struct{} { return w.done }
