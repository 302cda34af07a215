package ply_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply"
	"github.com/plykit/ply/plytest"
)

// lazyAPI is a lazy plugin that provides the API "<name>.api" (the string
// "<name> api") unless noAPI is set, and counts its hooks. Its loads fail
// at failOp while failures is above zero, and block in Provision until
// gate is closed when gate is set.
type lazyAPI struct {
	name     string
	deps     []ply.Dependency
	rec      *plytest.Recorder
	gate     chan struct{}
	failOp   string
	failures atomic.Int32
	noAPI    bool

	provisions, starts, stops, cleanups, wraps atomic.Int32
}

var errLoad = errors.New("load failed")

func (l *lazyAPI) Info() ply.Info {
	return ply.Info{Name: l.name, Version: "1.0.0", Requires: l.deps, Lazy: true}
}

func (l *lazyAPI) key() ply.Key[string] { return ply.NewKey[string](l.name + ".api") }

func (l *lazyAPI) hook(op string) error {
	if l.rec != nil {
		l.rec.Record(op + " " + l.name)
	}
	if l.failOp == op && l.failures.Add(-1) >= 0 {
		return errLoad
	}
	return nil
}

func (l *lazyAPI) Provision(_ context.Context, s *ply.Setup) error {
	l.provisions.Add(1)
	if l.gate != nil {
		<-l.gate
	}
	for _, d := range l.deps { // a lazy dependency is loaded by now
		if _, err := ply.Lookup(s, ply.NewKey[string](d.Name+".api")); err != nil {
			return err
		}
	}
	if !l.noAPI {
		if err := ply.Provide(s, l.key(), l.name+" api"); err != nil {
			return err
		}
	}
	return l.hook(ply.OpProvision)
}

func (l *lazyAPI) Start(context.Context) error {
	l.starts.Add(1)
	return l.hook(ply.OpStart)
}

func (l *lazyAPI) Stop(context.Context) error {
	l.stops.Add(1)
	return l.hook(ply.OpStop)
}

func (l *lazyAPI) Cleanup(context.Context) error {
	l.cleanups.Add(1)
	return l.hook(ply.OpCleanup)
}

// lazyLayer is a lazyAPI that also wraps every chain: its layer sets the
// response to the plugin's name.
type lazyLayer struct{ *lazyAPI }

func (l lazyLayer) Wrap(context.Context, ply.Target) (ply.Wrap, error) {
	l.wraps.Add(1)
	name := l.name
	return ply.Wrap{Layer: func(ctx context.Context, c *ply.Call, next ply.Next) error {
		c.SetResponse(name)
		return next.Run(ctx)
	}}, nil
}

func noop(context.Context, *ply.Call) error { return nil }

// counts are a lazy plugin's hook counts.
type counts struct{ Provisions, Starts, Stops, Cleanups, Wraps int32 }

func (l *lazyAPI) counts() counts {
	return counts{l.provisions.Load(), l.starts.Load(), l.stops.Load(), l.cleanups.Load(), l.wraps.Load()}
}

// A thousand first calls arriving together load the lazy plugin once: one
// runs the load, the others wait for it, and all go through its layer.
func TestLazyConcurrentFirstCallsLoadOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lazyAPI{name: "lazy", gate: make(chan struct{})}
		h, ch := startHost(t, []ply.Plugin{lazyLayer{l}}, noop)
		if got := l.counts(); got != (counts{}) {
			t.Fatalf("a lazy plugin ran hooks at Start: %+v", got)
		}
		const callers = 1000
		results := make(chan any, callers)
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				res, err := ch.Serve(t.Context(), nil, nil)
				if err != nil {
					t.Error(err)
				}
				results <- res
			})
		}
		synctest.Wait() // every caller is blocked: one in Provision, the rest waiting for it
		if got := l.provisions.Load(); got != 1 {
			t.Errorf("%d callers waiting: Provision ran %d times, want 1", callers, got)
		}
		close(l.gate)
		wg.Wait()
		close(results)
		for res := range results {
			if res != "lazy" {
				t.Errorf("a first call answered %v, want the lazy layer's %q", res, "lazy")
			}
		}
		if diff := cmp.Diff(counts{Provisions: 1, Starts: 1, Wraps: 1}, l.counts()); diff != "" {
			t.Errorf("hooks after %d first calls (-want +got):\n%s", callers, diff)
		}
		if got := stateOf(h.Health(t.Context()), "lazy").State; got != ply.StateOK {
			t.Errorf("state after the load = %s, want ok", got)
		}
	})
}

// A failed load fails every call that waited for it with the plugin's
// error, and every later call until the backoff is over; then a call tries
// again, and the backoff doubles.
func TestLazyFailedLoadIsRetried(t *testing.T) {
	for _, tt := range []struct {
		op   string
		want counts // after the failed load
	}{
		{ply.OpProvision, counts{Provisions: 1, Cleanups: 1}},
		{ply.OpStart, counts{Provisions: 1, Starts: 1, Cleanups: 1}},
	} {
		t.Run(tt.op, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := &lazyAPI{name: "lazy", gate: make(chan struct{}), failOp: tt.op, noAPI: true}
				l.failures.Store(2)
				h, ch := startHost(t, []ply.Plugin{lazyLayer{l}}, noop)
				isLoadErr := func(err error) bool {
					pe, ok := errors.AsType[*ply.PluginError](err)
					return ok && pe.Plugin == "lazy" && pe.Op == tt.op && errors.Is(err, errLoad)
				}

				const waiters = 10
				errs := make(chan error, waiters)
				for range waiters {
					go func() {
						_, err := ch.Serve(t.Context(), nil, nil)
						errs <- err
					}()
				}
				synctest.Wait()
				close(l.gate)
				for range waiters {
					if err := <-errs; !isLoadErr(err) {
						t.Errorf("a waiter got %v, want lazy's %s error", err, tt.op)
					}
				}
				if diff := cmp.Diff(tt.want, l.counts()); diff != "" {
					t.Errorf("hooks after the failed load (-want +got):\n%s", diff)
				}
				if got := stateOf(h.Health(t.Context()), "lazy").State; got != ply.StateLazy {
					t.Errorf("state after the failed load: %s, want lazy", got)
				}

				// Backoff after a failure: the first retry waits LazyFirstRetry,
				// the next twice that.
				for _, wait := range []time.Duration{ply.LazyFirstRetry, 2 * ply.LazyFirstRetry} {
					before := l.provisions.Load()
					time.Sleep(wait - time.Millisecond)
					if _, err := ch.Serve(t.Context(), nil, nil); !isLoadErr(err) {
						t.Errorf("a call within the backoff got %v, want the load's error", err)
					}
					if got := l.provisions.Load(); got != before {
						t.Errorf("a call within the backoff ran Provision again")
					}
					time.Sleep(time.Millisecond)
					_, err := ch.Serve(t.Context(), nil, nil)
					if got := l.provisions.Load(); got != before+1 {
						t.Errorf("the first call after a backoff of %v ran Provision %d times, want once", wait, got-before)
					}
					if wait == ply.LazyFirstRetry && !isLoadErr(err) { // the second failure
						t.Errorf("the retry got %v, want the load's error", err)
					}
					if wait == 2*ply.LazyFirstRetry && err != nil {
						t.Errorf("the third load failed: %v", err)
					}
				}
				if got := stateOf(h.Health(t.Context()), "lazy").State; got != ply.StateOK {
					t.Errorf("state after the load succeeded: %s, want ok", got)
				}
				if res, err := ch.Serve(t.Context(), nil, nil); err != nil || res != "lazy" {
					t.Errorf("a call once loaded = %v, %v; want the lazy layer's answer", res, err)
				}
			})
		})
	}
}

// The first Lookup of a lazy plugin's API loads it, once.
func TestLazyLookupLoads(t *testing.T) {
	l := &lazyAPI{name: "lazy"}
	h, ch := startHost(t, []ply.Plugin{lazyLayer{l}}, noop)
	if got := stateOf(h.Health(t.Context()), "lazy").State; got != ply.StateLazy {
		t.Errorf("state before the lookup: %s, want lazy", got)
	}
	for range 3 {
		got, err := ply.Lookup(h, l.key())
		if err != nil || got != "lazy api" {
			t.Fatalf("Lookup = %q, %v; want the lazy plugin's API", got, err)
		}
	}
	if diff := cmp.Diff(counts{Provisions: 1, Starts: 1}, l.counts()); diff != "" {
		t.Errorf("hooks after three lookups (-want +got):\n%s", diff)
	}
	if got := stateOf(h.Health(t.Context()), "lazy").State; got != ply.StateOK {
		t.Errorf("state after the lookup: %s, want ok", got)
	}
	// A call then wraps the chain without loading it again.
	if res, err := ch.Serve(t.Context(), nil, nil); err != nil || res != "lazy" {
		t.Errorf("call after the lookup = %v, %v; want the lazy layer's answer", res, err)
	}
	if diff := cmp.Diff(counts{Provisions: 1, Starts: 1, Wraps: 1}, l.counts()); diff != "" {
		t.Errorf("hooks after a call (-want +got):\n%s", diff)
	}
}

// A lazy plugin whose dependencies are lazy loads them first, each once,
// dependencies first.
func TestLazyLoadsLazyDependenciesFirst(t *testing.T) {
	rec := plytest.NewRecorder()
	base := &lazyAPI{name: "base", rec: rec}
	mid := &lazyAPI{name: "mid", rec: rec, deps: []ply.Dependency{{Name: "base"}}}
	top := &lazyAPI{name: "top", rec: rec, deps: []ply.Dependency{{Name: "mid"}, {Name: "base"}}}
	h, ch := startHost(t, []ply.Plugin{lazyLayer{top}, mid, base}, noop)
	if res, err := ch.Serve(t.Context(), nil, nil); err != nil || res != "top" {
		t.Fatalf("first call = %v, %v; want top's layer", res, err)
	}
	want := []string{"provision base", "start base", "provision mid", "start mid", "provision top", "start top"}
	if diff := cmp.Diff(want, rec.Lines()); diff != "" {
		t.Errorf("hooks of the first call (-want +got):\n%s", diff)
	}
	for _, l := range []*lazyAPI{base, mid, top} {
		if got := stateOf(h.Health(t.Context()), l.name).State; got != ply.StateOK {
			t.Errorf("%s is %s after the load, want ok", l.name, got)
		}
	}
	rec.Reset()
	if err := h.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	want = []string{"stop top", "stop mid", "stop base", "cleanup top", "cleanup mid", "cleanup base"}
	if diff := cmp.Diff(want, rec.Lines()); diff != "" {
		t.Errorf("hooks of Stop (-want +got):\n%s", diff)
	}
}

// A lazy load whose lazy dependency fails fails with the dependency's
// error, attributed to the dependent.
func TestLazyDependencyFailure(t *testing.T) {
	dep := &lazyAPI{name: "dep", failOp: ply.OpProvision}
	dep.failures.Store(1)
	top := &lazyAPI{name: "top", deps: []ply.Dependency{{Name: "dep"}}}
	_, ch := startHost(t, []ply.Plugin{lazyLayer{top}, dep}, noop)
	_, err := ch.Serve(t.Context(), nil, nil)
	de, ok := errors.AsType[*ply.DependencyError](err)
	pe, _ := errors.AsType[*ply.PluginError](err)
	if !ok || de.Plugin != "top" || de.Dependency != "dep" || pe == nil || pe.Plugin != "dep" || !errors.Is(err, errLoad) {
		t.Errorf("first call = %v; want top's DependencyError on dep's Provision error", err)
	}
	if got := top.provisions.Load(); got != 0 {
		t.Errorf("top was provisioned %d times though its dependency failed", got)
	}
}

// Stop stops and cleans up a lazy plugin that was loaded, and runs no hook
// of one that never was.
func TestLazyStop(t *testing.T) {
	loaded := &lazyAPI{name: "loaded"}
	idle := &lazyAPI{name: "idle"}
	h, ch := startHost(t, []ply.Plugin{lazyLayer{loaded}, idle}, noop)
	if _, err := ch.Serve(t.Context(), nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := h.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(counts{Provisions: 1, Starts: 1, Stops: 1, Cleanups: 1, Wraps: 1}, loaded.counts()); diff != "" {
		t.Errorf("hooks of the loaded plugin (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(counts{}, idle.counts()); diff != "" {
		t.Errorf("hooks of the plugin never loaded (-want +got):\n%s", diff)
	}
}

// A reload that replaces a loaded lazy plugin stops the old instance and
// leaves the new one lazy, to be loaded by the next call; one that carries
// a lazy plugin over leaves it as it was.
func TestLazyAcrossReloads(t *testing.T) {
	old := &lazyAPI{name: "lazy"}
	other := &lazyAPI{name: "other"}
	h, ch := startHost(t, []ply.Plugin{lazyLayer{old}, other}, noop)
	if _, err := ch.Serve(t.Context(), nil, nil); err != nil {
		t.Fatal(err)
	}
	next := &lazyAPI{name: "lazy"}
	rl, err := h.Reload(t.Context(), ply.Change{Plugins: []ply.Plugin{lazyLayer{next}, other}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"lazy@1.0.0"}, rl.Replaced); diff != "" {
		t.Errorf("replaced (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(counts{Provisions: 1, Starts: 1, Stops: 1, Cleanups: 1, Wraps: 1}, old.counts()); diff != "" {
		t.Errorf("hooks of the replaced instance (-want +got):\n%s", diff)
	}
	if got := stateOf(h.Health(t.Context()), "lazy").State; got != ply.StateLazy {
		t.Errorf("the new instance is %s after the reload, want lazy", got)
	}
	if diff := cmp.Diff(counts{}, next.counts()); diff != "" {
		t.Errorf("the new instance ran hooks before its first use (-want +got):\n%s", diff)
	}
	if res, err := ch.Serve(t.Context(), nil, nil); err != nil || res != "lazy" {
		t.Errorf("first call after the reload = %v, %v; want the new lazy layer's answer", res, err)
	}
	if diff := cmp.Diff(counts{Provisions: 1, Starts: 1, Wraps: 1}, next.counts()); diff != "" {
		t.Errorf("hooks of the new instance after a call (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(counts{}, other.counts()); diff != "" {
		t.Errorf("the lazy plugin carried over and never used ran hooks (-want +got):\n%s", diff)
	}
}

// Once the host stopped, a first use of a lazy plugin fails with
// ErrNotStarted and loads nothing.
func TestLazyLoadAfterStop(t *testing.T) {
	for _, tt := range []struct {
		name string
		use  func(ctx context.Context, h *ply.Host, ch *ply.Chain, l *lazyAPI) error
	}{
		{"call", func(ctx context.Context, _ *ply.Host, ch *ply.Chain, _ *lazyAPI) error {
			_, err := ch.Serve(ctx, nil, nil)
			return err
		}},
		{"lookup", func(_ context.Context, h *ply.Host, _ *ply.Chain, l *lazyAPI) error {
			_, err := ply.Lookup(h, l.key())
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := &lazyAPI{name: "lazy"}
			h, ch := startHost(t, []ply.Plugin{lazyLayer{l}}, noop)
			if err := h.Stop(t.Context()); err != nil {
				t.Fatal(err)
			}
			if err := tt.use(t.Context(), h, ch, l); !errors.Is(err, ply.ErrNotStarted) {
				t.Errorf("first use after Stop = %v, want ErrNotStarted", err)
			}
			if diff := cmp.Diff(counts{}, l.counts()); diff != "" {
				t.Errorf("hooks (-want +got):\n%s", diff)
			}
		})
	}
}

// Health follows a lazy plugin through its load: lazy before the first
// call, loading while the first call loads it, ok once loaded, stopped
// after Stop.
func TestLazyHealthStates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lazyAPI{name: "lazy", gate: make(chan struct{})}
		h, ch := startHost(t, []ply.Plugin{lazyLayer{l}}, noop)
		if got := stateOf(h.Health(t.Context()), "lazy").State; got != ply.StateLazy {
			t.Errorf("before the first call: %s, want lazy", got)
		}
		served := make(chan error, 1)
		go func() {
			_, err := ch.Serve(t.Context(), nil, nil)
			served <- err
		}()
		synctest.Wait() // the first call is in Provision
		if got := stateOf(h.Health(t.Context()), "lazy").State; got != ply.StateLoading {
			t.Errorf("while the first call loads it: %s, want loading", got)
		}
		close(l.gate)
		if err := <-served; err != nil {
			t.Fatal(err)
		}
		if got := stateOf(h.Health(t.Context()), "lazy").State; got != ply.StateOK {
			t.Errorf("once loaded: %s, want ok", got)
		}
		if err := h.Stop(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := stateOf(h.Health(t.Context()), "lazy").State; got != ply.StateStopped {
			t.Errorf("after Stop: %s, want stopped", got)
		}
	})
}

// A load that failed after the plugin provided its API is taken back
// whole: the retry provides the API again, and succeeds.
func TestLazyRetryProvidesAgain(t *testing.T) {
	for _, op := range []string{ply.OpProvision, ply.OpStart} {
		t.Run(op, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := &lazyAPI{name: "lazy", failOp: op}
				l.failures.Store(1)
				h, _ := startHost(t, []ply.Plugin{l}, noop)
				if _, err := ply.Lookup(h, l.key()); !errors.Is(err, errLoad) {
					t.Fatalf("first Lookup = %v, want the failed load's error", err)
				}
				time.Sleep(ply.LazyFirstRetry)
				if got, err := ply.Lookup(h, l.key()); err != nil || got != "lazy api" {
					t.Errorf("Lookup after the backoff = %q, %v; want the API of the retried load", got, err)
				}
			})
		})
	}
}

// A plugin that requires a lazy plugin and looks its API up in Provision
// loads it during Start.
func TestLazyLookupDuringStart(t *testing.T) {
	l := &lazyAPI{name: "lazy"}
	var got string
	user := ply.Func{
		Meta: ply.Info{Name: "user", Version: "1.0.0", Requires: []ply.Dependency{{Name: "lazy"}}},
		OnProvision: func(_ context.Context, s *ply.Setup) error {
			var err error
			got, err = ply.Lookup(s, l.key())
			return err
		},
	}
	h, err := ply.New([]ply.Plugin{user, l}, ply.WithLogger(discard))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(t.Context()); err != nil {
		t.Fatalf("Start = %v; want the lazy dependency loaded for user's lookup", err)
	}
	t.Cleanup(func() { _ = h.Stop(context.Background()) })
	if got != "lazy api" {
		t.Errorf("user looked up %q, want the lazy plugin's API", got)
	}
	if diff := cmp.Diff(counts{Provisions: 1, Starts: 1}, l.counts()); diff != "" {
		t.Errorf("hooks of the lazy dependency (-want +got):\n%s", diff)
	}
}

// A lazy plugin loaded during a Start that then fails is taken back with
// the rest: stopped and cleaned up.
func TestLazyLoadedDuringFailedStart(t *testing.T) {
	l := &lazyAPI{name: "lazy"}
	user := ply.Func{
		Meta: ply.Info{Name: "user", Version: "1.0.0", Requires: []ply.Dependency{{Name: "lazy"}}},
		OnProvision: func(_ context.Context, s *ply.Setup) error {
			_, err := ply.Lookup(s, l.key())
			return err
		},
		OnStart: func(context.Context) error { return errBoom },
	}
	h, err := ply.New([]ply.Plugin{user, l}, ply.WithLogger(discard))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(t.Context()); !errors.Is(err, errBoom) {
		t.Fatalf("Start = %v, want user's Start error", err)
	}
	if diff := cmp.Diff(counts{Provisions: 1, Starts: 1, Stops: 1, Cleanups: 1}, l.counts()); diff != "" {
		t.Errorf("hooks of the lazy dependency after the failed Start (-want +got):\n%s", diff)
	}
}

// A call that started on a generation a reload replaced may load that
// generation's lazy plugin while the reload drains it: the reload then
// stops the instance it loaded, as it stops the others it replaced.
func TestLazyLoadedWhileDraining(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		entered, release := make(chan struct{}), make(chan struct{})
		var first atomic.Bool
		gate := ply.Func{ // outside the lazy layer: holds the first call before it reaches it
			Meta: ply.Info{Name: "gate", Version: "1.0.0", Priority: ply.System},
			OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
				return ply.Wrap{Layer: func(ctx context.Context, _ *ply.Call, next ply.Next) error {
					if first.CompareAndSwap(false, true) {
						close(entered)
						<-release
					}
					return next.Run(ctx)
				}}, nil
			},
		}
		old := &lazyAPI{name: "lazy"}
		h, ch := startHost(t, []ply.Plugin{&gate, lazyLayer{old}}, noop)
		served := make(chan error, 1)
		go func() {
			_, err := ch.Serve(t.Context(), nil, nil)
			served <- err
		}()
		<-entered
		reloaded := make(chan error, 1)
		go func() {
			_, err := h.Reload(t.Context(), ply.Change{Plugins: []ply.Plugin{&gate, lazyLayer{&lazyAPI{name: "lazy"}}}})
			reloaded <- err
		}()
		synctest.Wait() // the reload swapped and drains the held call
		close(release)
		if err := <-served; err != nil {
			t.Fatal(err)
		}
		if err := <-reloaded; err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(counts{Provisions: 1, Starts: 1, Stops: 1, Cleanups: 1, Wraps: 1}, old.counts()); diff != "" {
			t.Errorf("hooks of the instance loaded while its generation drained (-want +got):\n%s", diff)
		}
	})
}
