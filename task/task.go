package task

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/plykit/ply"
)

// ErrStopped is returned by [Group.Go] once [Group.Stop] was called.
var ErrStopped = errors.New("task: group stopped")

// Default restart delays. See [WithBackoff].
const (
	DefaultInitialBackoff = time.Second
	DefaultMaxBackoff     = 30 * time.Second
)

// An Option configures one task started by [Group.Go].
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	restart     bool
	maxRestarts int // < 0: no limit
	initial     time.Duration
	max         time.Duration
	errs        []error
}

// WithRestart says whether the task is restarted after it fails (returns an
// error or panics). Default: true.
func WithRestart(restart bool) Option {
	return optionFunc(func(c *config) { c.restart = restart })
}

// WithMaxRestarts limits how many times in a row the task is restarted; a
// run that lasted at least the maximum backoff resets the count. After the
// last restart fails, the task is done and its error logged. Negative means
// no limit, the default.
func WithMaxRestarts(n int) Option {
	return optionFunc(func(c *config) { c.maxRestarts = n })
}

// WithBackoff sets the delay before the first restart (initial) and the
// limit of the delay (maxDelay), which doubles at each failure in a row.
// Both must be > 0, and maxDelay >= initial. Default:
// [DefaultInitialBackoff], [DefaultMaxBackoff].
func WithBackoff(initial, maxDelay time.Duration) Option {
	return optionFunc(func(c *config) {
		if initial <= 0 || maxDelay < initial {
			c.errs = append(c.errs, fmt.Errorf("task: WithBackoff(%v, %v): want 0 < initial <= max", initial, maxDelay))
			return
		}
		c.initial, c.max = initial, maxDelay
	})
}

// Group supervises tasks. Create one with [NewGroup]; the zero value is not
// usable. A Group is safe for concurrent use.
type Group struct {
	log    *slog.Logger
	ctx    context.Context //nolint:containedctx // the tasks' context, cancelled by Stop
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{}

	mu      sync.Mutex
	stopped bool
}

// NewGroup returns an empty group that logs task failures to logger (nil:
// [slog.Default]).
func NewGroup(logger *slog.Logger) *Group {
	if logger == nil {
		logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Group{log: logger, ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

// Go starts fn in a new goroutine, supervised as the options say. fn must
// return once its context is done, which happens when the group stops.
// name identifies the task in logs. Go returns [ErrStopped] after
// [Group.Stop] was called, and an error for an invalid option or a nil fn.
func (g *Group) Go(name string, fn func(ctx context.Context) error, opts ...Option) error {
	c := config{restart: true, maxRestarts: -1, initial: DefaultInitialBackoff, max: DefaultMaxBackoff}
	for _, o := range opts {
		if o == nil {
			c.errs = append(c.errs, errors.New("task: nil Option"))
			continue
		}
		o.apply(&c)
	}
	if fn == nil {
		c.errs = append(c.errs, errors.New("task: nil function"))
	}
	if err := errors.Join(c.errs...); err != nil {
		return fmt.Errorf("task %s: %w", name, err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return fmt.Errorf("task %s: %w", name, ErrStopped)
	}
	g.wg.Add(1)
	go g.supervise(name, fn, c)
	return nil
}

func (g *Group) supervise(name string, fn func(context.Context) error, c config) {
	defer g.wg.Done()
	log := g.log.With("task", name)
	b := &backoff.ExponentialBackOff{
		InitialInterval:     c.initial,
		RandomizationFactor: backoff.DefaultRandomizationFactor,
		Multiplier:          2,
		MaxInterval:         c.max,
	}
	b.Reset()
	restarts := 0
	for {
		began := time.Now()
		err := call(g.ctx, fn)
		if g.ctx.Err() != nil {
			return // stopping: the task ended as asked
		}
		if err == nil {
			log.Debug("task done")
			return
		}
		if time.Since(began) >= c.max {
			b.Reset()
			restarts = 0
		}
		attrs := []any{"err", err}
		if pe, ok := errors.AsType[*ply.PanicError](err); ok {
			attrs = append(attrs, "stack", string(pe.Stack))
		}
		if !c.restart || (c.maxRestarts >= 0 && restarts >= c.maxRestarts) {
			log.Error("task failed; not restarting", append(attrs, "restarts", restarts)...)
			return
		}
		restarts++
		wait := b.NextBackOff()
		log.Error("task failed; restarting", append(attrs, "restart", restarts, "in", wait)...)
		t := time.NewTimer(wait)
		select {
		case <-g.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// call runs fn, returning a panic as a *ply.PanicError.
func call(ctx context.Context, fn func(context.Context) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &ply.PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return fn(ctx)
}

// Stop cancels every task's context and waits until all have returned, or
// until ctx is done (it then returns ctx.Err(); the tasks still end in the
// background and [Group.Done] tells when). Later calls of Go fail with
// [ErrStopped]. Stop is idempotent.
func (g *Group) Stop(ctx context.Context) error {
	g.mu.Lock()
	if !g.stopped {
		g.stopped = true
		g.cancel()
		go func() {
			g.wg.Wait()
			close(g.done)
		}()
	}
	g.mu.Unlock()
	select {
	case <-g.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done is closed once the group was stopped and every task has returned.
func (g *Group) Done() <-chan struct{} { return g.done }
