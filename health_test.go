package ply_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/plykit/ply"
)

// checked is a plugin whose health check is check, counting its calls.
func checked(name string, calls *atomic.Int32, check func(ctx context.Context) error) ply.Plugin {
	return ply.Func{Meta: ply.Info{Name: name, Version: "1.0.0"}, OnHealth: func(ctx context.Context) error {
		calls.Add(1)
		return check(ctx)
	}}
}

// started starts a host of ps (stopped at cleanup).
func started(t testing.TB, ps []ply.Plugin, opts ...ply.Option) *ply.Host {
	t.Helper()
	h, err := ply.New(ps, append([]ply.Option{ply.WithLogger(discard)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Stop(context.Background()) })
	return h
}

func stateOf(sts []ply.Status, name string) ply.Status {
	for _, st := range sts {
		if st.Name == name {
			return st
		}
	}
	return ply.Status{State: -1}
}

func TestReadyKeepsTheCause(t *testing.T) {
	errRefused := errors.New("connection refused")
	var calls atomic.Int32
	h := started(t, []ply.Plugin{checked("db", &calls, func(context.Context) error { return errRefused })})
	err := h.Ready(t.Context())
	if !errors.Is(err, errRefused) {
		t.Errorf("Ready() = %v, want it to match the check's error", err)
	}
	if want := "plugin db@1.0.0 is failed: connection refused"; err == nil || err.Error() != want {
		t.Errorf("Ready() = %v, want %q", err, want)
	}
}

// Every probe checks the plugins at once: two checks that each wait for
// the other to begin both pass.
func TestHealthChecksRunConcurrently(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		began := map[string]chan struct{}{"a": make(chan struct{}), "b": make(chan struct{})}
		var calls atomic.Int32
		meet := func(self, other string) func(ctx context.Context) error {
			return func(ctx context.Context) error {
				close(began[self])
				select {
				case <-began[other]:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		h := started(t, []ply.Plugin{checked("a", &calls, meet("a", "b")), checked("b", &calls, meet("b", "a"))},
			ply.WithTimeout(ply.OpHealth, time.Second))
		sts := h.Health(t.Context())
		for _, name := range []string{"a", "b"} {
			if st := stateOf(sts, name); st.State != ply.StateOK {
				t.Errorf("%s = %v (%v), want ok: the checks ran one after the other", name, st.State, st.Err)
			}
		}
	})
}

func TestHealthCache(t *testing.T) {
	for _, tt := range []struct {
		name      string
		opts      []ply.Option
		wantCalls []int32 // after each probe: at 0, 0, 999ms, 1s, 1s
	}{
		{name: "default: a result serves for 1s", wantCalls: []int32{1, 1, 1, 2, 2}},
		{name: "0: every probe checks", opts: []ply.Option{ply.WithHealthCache(0)}, wantCalls: []int32{1, 2, 3, 4, 5}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var calls atomic.Int32
				h := started(t, []ply.Plugin{checked("db", &calls, func(context.Context) error { return nil })}, tt.opts...)
				var got []int32
				for _, wait := range []time.Duration{0, 0, 999 * time.Millisecond, time.Millisecond, 0} {
					time.Sleep(wait)
					if st := stateOf(h.Health(t.Context()), "db"); st.State != ply.StateOK {
						t.Fatalf("db = %v, want ok", st.State)
					}
					got = append(got, calls.Load())
				}
				if !slices.Equal(got, tt.wantCalls) {
					t.Errorf("checks after each probe = %v, want %v", got, tt.wantCalls)
				}
			})
		})
	}
}

// A check that ignores its context runs at most once at a time: the probes
// that find it still running report it timed out and start nothing; once
// it returns, the next probe checks again.
func TestHealthHungCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		unblock := sync.OnceFunc(func() { close(release) })
		defer unblock() // also when the test fails early
		var calls atomic.Int32
		h := started(t, []ply.Plugin{checked("db", &calls, func(context.Context) error { <-release; return nil })},
			ply.WithTimeout(ply.OpHealth, time.Second), ply.WithHealthCache(0))
		for probe := range 3 {
			st := stateOf(h.Health(t.Context()), "db")
			if st.State != ply.StateFailed || !errors.Is(st.Err, ply.ErrHookTimeout) {
				t.Errorf("probe %d: db = %v (%v), want failed with ErrHookTimeout", probe, st.State, st.Err)
			}
			if err := h.Ready(t.Context()); !errors.Is(err, ply.ErrHookTimeout) {
				t.Errorf("probe %d: Ready() = %v, want it to match ErrHookTimeout", probe, err)
			}
			if got := calls.Load(); got != 1 {
				t.Fatalf("probe %d: %d checks started, want 1 in flight at most", probe, got)
			}
		}
		unblock()
		synctest.Wait() // the hung check returns
		if st := stateOf(h.Health(t.Context()), "db"); st.State != ply.StateOK || calls.Load() != 2 {
			t.Errorf("after the check returned: db = %v (%v) after %d checks, want ok after 2", st.State, st.Err, calls.Load())
		}
	})
}

// Probes that arrive while a check is running share its result.
func TestHealthConcurrentProbesShareACheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		var calls atomic.Int32
		h := started(t, []ply.Plugin{checked("db", &calls, func(ctx context.Context) error {
			select {
			case <-gate:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})}, ply.WithTimeout(ply.OpHealth, time.Minute), ply.WithHealthCache(0))
		var wg sync.WaitGroup
		states := make([]ply.State, 3)
		for i := range states {
			wg.Go(func() { states[i] = stateOf(h.Health(t.Context()), "db").State })
			synctest.Wait() // the first probe's check is running; the others wait for it
		}
		close(gate)
		wg.Wait()
		for i, st := range states {
			if st != ply.StateOK {
				t.Errorf("probe %d: db = %v, want ok", i, st)
			}
		}
		if got := calls.Load(); got != 1 {
			t.Errorf("%d checks for 3 concurrent probes, want 1", got)
		}
	})
}
