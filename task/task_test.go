package task_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/plykit/ply/task"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var errBoom = errors.New("boom")

// recorder is a task that records when it runs and fails each time, unless
// its run function says otherwise.
type recorder struct {
	mu    sync.Mutex
	calls []time.Time
	run   func(ctx context.Context, n int) error // n counts calls from 1
}

func (r *recorder) fn(ctx context.Context) error {
	r.mu.Lock()
	r.calls = append(r.calls, time.Now())
	n := len(r.calls)
	r.mu.Unlock()
	if r.run != nil {
		return r.run(ctx, n)
	}
	return errBoom
}

// gaps returns the delays between the starts of consecutive calls.
func (r *recorder) gaps() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	var d []time.Duration
	for i := 1; i < len(r.calls); i++ {
		d = append(d, r.calls[i].Sub(r.calls[i-1]))
	}
	return d
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func stop(t *testing.T, g *task.Group) {
	t.Helper()
	if err := g.Stop(t.Context()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

// within checks that got is in [want/2, want*3/2]: the jitter is ±50%.
func within(t *testing.T, i int, got, want time.Duration) {
	t.Helper()
	if got < want/2 || got > want*3/2 {
		t.Errorf("delay before restart %d = %v, want %v ± 50%%", i+1, got, want)
	}
}

func TestBackoffDoublesUpToMax(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := task.NewGroup(quiet())
		r := &recorder{}
		if err := g.Go("fail", r.fn, task.WithBackoff(time.Second, 4*time.Second), task.WithMaxRestarts(5)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour) // fake time: every restart happens
		synctest.Wait()
		gaps := r.gaps()
		if len(gaps) != 5 {
			t.Fatalf("restarts = %d, want 5 (WithMaxRestarts)", len(gaps))
		}
		for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second} {
			within(t, i, gaps[i], want)
		}
		stop(t, g)
	})
}

func TestLongRunResetsBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := task.NewGroup(quiet())
		r := &recorder{run: func(_ context.Context, n int) error {
			if n == 4 {
				time.Sleep(10 * time.Second) // longer than the max backoff: healthy for a while
			}
			return errBoom
		}}
		if err := g.Go("flaky", r.fn, task.WithBackoff(time.Second, 4*time.Second), task.WithMaxRestarts(4)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		gaps := r.gaps()
		// Three quick failures, then a 10s run: the 4th restart waits the
		// initial delay again, and the restart count starts over.
		if len(gaps) < 5 {
			t.Fatalf("calls = %d, want more than 5: the long run resets the restart count", len(gaps)+1)
		}
		within(t, 0, gaps[0], time.Second)
		within(t, 1, gaps[1], 2*time.Second)
		within(t, 2, gaps[2], 4*time.Second)
		within(t, 3, gaps[3]-10*time.Second, time.Second)
		stop(t, g)
	})
}

func TestPanicIsRecoveredLoggedAndRestarted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		var mu sync.Mutex
		log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil))
		g := task.NewGroup(log)
		r := &recorder{run: func(_ context.Context, n int) error {
			if n == 1 {
				panic("kaboom")
			}
			return nil // done
		}}
		if err := g.Go("panicky", r.fn); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := len(r.gaps()) + 1; got != 2 {
			t.Errorf("calls = %d, want 2", got)
		}
		stop(t, g)
		mu.Lock()
		out := buf.String()
		mu.Unlock()
		for _, want := range []string{"task=panicky", "panic: kaboom", "stack=", "task_test.go"} {
			if !strings.Contains(out, want) {
				t.Errorf("log lacks %q:\n%s", want, out)
			}
		}
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func TestNoRestart(t *testing.T) {
	for _, tt := range []struct {
		name      string
		run       func(context.Context, int) error
		opts      []task.Option
		wantCalls int
	}{
		{name: "restart off", opts: []task.Option{task.WithRestart(false)}, wantCalls: 1},
		{name: "max restarts 0", opts: []task.Option{task.WithMaxRestarts(0)}, wantCalls: 1},
		{name: "max restarts 2", opts: []task.Option{task.WithMaxRestarts(2)}, wantCalls: 3},
		{name: "nil error is done", run: func(context.Context, int) error { return nil }, wantCalls: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := task.NewGroup(quiet())
				r := &recorder{run: tt.run}
				if err := g.Go(tt.name, r.fn, tt.opts...); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Hour)
				synctest.Wait()
				if got := len(r.gaps()) + 1; got != tt.wantCalls {
					t.Errorf("calls = %d, want %d", got, tt.wantCalls)
				}
				stop(t, g)
			})
		})
	}
}

func TestStopCancelsAndWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := task.NewGroup(quiet())
		var ended sync.WaitGroup
		for _, name := range []string{"a", "b", "c"} {
			ended.Add(1)
			if err := g.Go(name, func(ctx context.Context) error {
				defer ended.Done()
				<-ctx.Done()
				return ctx.Err()
			}); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case <-g.Done():
			t.Fatal("Done closed before Stop")
		default:
		}
		stop(t, g)
		ended.Wait() // returns at once: Stop waited for the tasks
		<-g.Done()
		if err := g.Go("late", func(context.Context) error { return nil }); !errors.Is(err, task.ErrStopped) {
			t.Errorf("Go after Stop = %v, want ErrStopped", err)
		}
		stop(t, g) // idempotent
	})
}

func TestStopTimesOutOnStubbornTask(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := task.NewGroup(quiet())
		release := make(chan struct{})
		if err := g.Go("stubborn", func(context.Context) error {
			<-release // ignores its context
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if err := g.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Stop = %v, want context.DeadlineExceeded", err)
		}
		close(release)
		<-g.Done()
	})
}

func TestStopDuringBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := task.NewGroup(quiet())
		r := &recorder{}
		if err := g.Go("fail", r.fn, task.WithBackoff(time.Minute, time.Hour)); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // failed once, waiting a minute to restart
		start := time.Now()
		stop(t, g)
		if d := time.Since(start); d != 0 {
			t.Errorf("Stop took %v of fake time, want 0: it interrupts the backoff", d)
		}
	})
}

func TestGoRejectsBadArguments(t *testing.T) {
	ok := func(context.Context) error { return nil }
	for _, tt := range []struct {
		name string
		fn   func(context.Context) error
		opts []task.Option
	}{
		{name: "nil fn"},
		{name: "zero initial", fn: ok, opts: []task.Option{task.WithBackoff(0, time.Second)}},
		{name: "max below initial", fn: ok, opts: []task.Option{task.WithBackoff(2*time.Second, time.Second)}},
		{name: "nil option", fn: ok, opts: []task.Option{nil}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := task.NewGroup(quiet())
			defer stop(t, g)
			if err := g.Go(tt.name, tt.fn, tt.opts...); err == nil {
				t.Errorf("Go(%s) = nil, want an error", tt.name)
			}
		})
	}
}
