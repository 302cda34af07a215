package ply_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply"
	"github.com/plykit/ply/plytest"
)

// stamp is a plugin whose layer stamps the call with its generation, and
// fails the call if an outer layer stamped another: a call that mixed
// generations would fail.
type stamp struct {
	name string
	gen  int64
	deps []ply.Dependency
	fail string // a hook that fails, by op
	rec  *plytest.Recorder
}

var errHook = errors.New("hook failed")

var genKey = ply.NewKey[int64]("gen.seen")

func (s *stamp) Info() ply.Info {
	return ply.Info{Name: s.name, Version: "1.0.0", Requires: s.deps}
}

func (s *stamp) hook(op string) error {
	if s.rec != nil {
		s.rec.Record(fmt.Sprintf("%s %s/%d", op, s.name, s.gen))
	}
	if s.fail == op {
		return errHook
	}
	return nil
}

func (s *stamp) Provision(context.Context, *ply.Setup) error { return s.hook(ply.OpProvision) }
func (s *stamp) Validate(context.Context) error              { return s.hook(ply.OpValidate) }
func (s *stamp) Start(context.Context) error                 { return s.hook(ply.OpStart) }
func (s *stamp) Stop(context.Context) error                  { return s.hook(ply.OpStop) }
func (s *stamp) Cleanup(context.Context) error               { return s.hook(ply.OpCleanup) }

func (s *stamp) Wrap(context.Context, ply.Target) (ply.Wrap, error) {
	if err := s.hook(ply.OpWrap); err != nil {
		return ply.Wrap{}, err
	}
	g := s.gen
	return ply.Wrap{Layer: func(ctx context.Context, c *ply.Call, next ply.Next) error {
		if seen, ok := ply.Get(c, genKey); ok && seen != g {
			return fmt.Errorf("%s: layer of generation %d in a call of generation %d", s.name, g, seen)
		}
		ply.Set(c, genKey, g)
		return next.Run(ctx)
	}}, nil
}

func respondGen(_ context.Context, c *ply.Call) error {
	g, _ := ply.Get(c, genKey)
	c.SetResponse(g)
	return nil
}

// startHost starts a host with plugins and one rpc handler m/h.
func startHost(t testing.TB, ps []ply.Plugin, fn ply.HandlerFunc, opts ...ply.Option) (*ply.Host, *ply.Chain) {
	t.Helper()
	h := started(t, ps, append(opts, ply.WithModules(ply.Module{Name: "m", Handlers: []ply.Handler{{Kind: ply.KindRPC, Name: "h", Func: fn}}}))...)
	ch, err := h.Chain("m", "h")
	if err != nil {
		t.Fatal(err)
	}
	return h, ch
}

// meanwhile calls fn on n goroutines, each in a loop until fn returns
// false or stop is called; stop waits for them.
func meanwhile(n int, fn func() bool) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if !fn() {
					return
				}
			}
		})
	}
	return func() {
		close(done)
		wg.Wait()
	}
}

// Reloads swap every chain while calls run: each call sees the layers of
// exactly one generation, and no call fails.
func TestReloadUnderLoad(t *testing.T) {
	a, c := &stamp{name: "a", gen: 0}, &stamp{name: "c", gen: 0}
	h, ch := startHost(t, []ply.Plugin{a, &stamp{name: "b"}, c}, respondGen)

	var calls atomic.Int64
	stop := meanwhile(4, func() bool {
		if _, err := ch.Serve(t.Context(), nil, nil); err != nil {
			t.Error(err)
			return false
		}
		calls.Add(1)
		return true
	})
	for i := range 200 {
		gen := int64(i + 1)
		rl, err := h.Reload(t.Context(), ply.Change{Plugins: []ply.Plugin{&stamp{name: "a", gen: gen}, &stamp{name: "b", gen: gen}, &stamp{name: "c", gen: gen}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(rl.Replaced) != 3 || rl.Chains != 1 {
			t.Fatalf("reload %d: %+v, want 3 replaced and 1 chain", gen, rl)
		}
	}
	stop()
	if res, _ := ch.Serve(t.Context(), nil, nil); res != int64(200) {
		t.Errorf("after the last reload the chain is of generation %v, want 200", res)
	}
	t.Logf("%d calls across 200 reloads", calls.Load())
}

// A reload brings up only the new instance; the unchanged ones carry over
// untouched, and the replaced one is stopped and cleaned up after.
func TestReloadCarriesUnchangedInstances(t *testing.T) {
	rec := plytest.NewRecorder()
	a, b, c := &stamp{name: "a", rec: rec}, &stamp{name: "b", rec: rec}, &stamp{name: "c", rec: rec}
	h, _ := startHost(t, []ply.Plugin{a, b, c}, respondGen)
	rec.Reset()

	rl, err := h.Reload(t.Context(), ply.Change{Plugins: []ply.Plugin{a, &stamp{name: "b", gen: 1, rec: rec}, c}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"provision b/1", "validate b/1", "wrap b/1", "start b/1", "stop b/0", "cleanup b/0"}
	if diff := cmp.Diff(want, rec.Lines()); diff != "" {
		t.Errorf("hooks (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(ply.Reloaded{Generation: rl.Generation, Replaced: []string{"b@1.0.0"}, Chains: 1, Took: rl.Took}, rl); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}

	rec.Reset()
	rl, err = h.Reload(t.Context(), ply.Change{Plugins: []ply.Plugin{a, c}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"stop b/1", "cleanup b/1"}, rec.Lines()); diff != "" {
		t.Errorf("hooks of a removal (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"b@1.0.0"}, rl.Removed); diff != "" {
		t.Errorf("removed (-want +got):\n%s", diff)
	}

	rec.Reset()
	rl, err = h.Reload(t.Context(), ply.Change{Plugins: []ply.Plugin{a, c}})
	if err != nil || !rl.NoChange() || len(rec.Lines()) != 0 {
		t.Errorf("a reload to the same plugins = %+v, %v, hooks %q; want no change and no hook", rl, err, rec.Lines())
	}
}

// A reload that fails before the swap leaves the old generation serving,
// takes back what it did, and names the plugin and the hook.
func TestReloadFailureRollsBack(t *testing.T) {
	for _, op := range []string{ply.OpProvision, ply.OpValidate, ply.OpWrap, ply.OpStart} {
		t.Run(op, func(t *testing.T) {
			rec := plytest.NewRecorder()
			a, b := &stamp{name: "a", rec: rec}, &stamp{name: "b", rec: rec}
			h, ch := startHost(t, []ply.Plugin{a, b}, respondGen)
			rec.Reset()

			_, err := h.Reload(t.Context(), ply.Change{Plugins: []ply.Plugin{a, &stamp{name: "b", gen: 1, fail: op, rec: rec}}})
			pe, ok := errors.AsType[*ply.PluginError](err)
			if !ok || pe.Plugin != "b" || pe.Op != op || !errors.Is(err, errHook) {
				t.Fatalf("Reload = %v, want b's %s error", err, op)
			}
			lines := rec.Lines()
			if got := lines[len(lines)-1]; got != "cleanup b/1" {
				t.Errorf("the new instance was not cleaned up last: %q", lines)
			}
			for _, l := range lines {
				if l == "stop b/0" || l == "cleanup b/0" || l == "stop a/0" {
					t.Errorf("the old generation was touched: %q", lines)
				}
			}
			if res, err := ch.Serve(t.Context(), nil, nil); err != nil || res != int64(0) {
				t.Errorf("after the failed reload the chain answered %v, %v; want generation 0", res, err)
			}
			for _, st := range h.Health(t.Context()) {
				if st.State != ply.StateOK {
					t.Errorf("health after the failed reload: %s is %s", st.Name, st.State)
				}
			}
		})
	}
}

// counter keeps a count in memory and hands it over on reload.
type counter struct {
	n atomic.Int64
}

func (*counter) Info() ply.Info { return ply.Info{Name: "counter", Version: "1.0.0"} }
func (c *counter) Wrap(context.Context, ply.Target) (ply.Wrap, error) {
	return ply.Wrap{Layer: func(ctx context.Context, call *ply.Call, next ply.Next) error {
		call.SetResponse(c.n.Add(1))
		return next.Run(ctx)
	}}, nil
}
func (c *counter) ExportState(context.Context) (any, error) { return c.n.Load(), nil }
func (c *counter) ImportState(_ context.Context, state any, from ply.Info) error {
	n, ok := state.(int64)
	if !ok {
		return fmt.Errorf("state of %s is a %T, want int64", from.ID(), state)
	}
	c.n.Store(n)
	return nil
}

func TestReloadHandsStateOver(t *testing.T) {
	h, ch := startHost(t, []ply.Plugin{&counter{}}, func(context.Context, *ply.Call) error { return nil })
	for i := range 100 {
		if _, err := ch.Serve(t.Context(), nil, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Reload(t.Context(), ply.Change{Plugins: []ply.Plugin{&counter{}}}); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
	}
	if got, _ := ch.Serve(t.Context(), nil, nil); got != int64(101) {
		t.Errorf("after 100 calls and 100 reloads the count is %v, want 101", got)
	}
}

// A plugin whose dependency is replaced is rebuilt too: through
// Change.Renew, or the reload names it.
func TestReloadRebuildsDependents(t *testing.T) {
	rec := plytest.NewRecorder()
	store := &stamp{name: "store", rec: rec}
	api := &stamp{name: "api", rec: rec, deps: []ply.Dependency{{Name: "store"}}}
	other := &stamp{name: "other", rec: rec}
	h, _ := startHost(t, []ply.Plugin{store, api, other}, respondGen)
	rec.Reset()

	change := ply.Change{Plugins: []ply.Plugin{&stamp{name: "store", gen: 1, rec: rec}, api, other}}
	if _, err := h.Reload(t.Context(), change); !errors.Is(err, ply.ErrReloadUnsupported) {
		t.Fatalf("Reload without Renew = %v, want ErrReloadUnsupported naming api", err)
	}
	if len(rec.Lines()) != 0 {
		t.Errorf("a reload that failed its plan ran hooks: %q", rec.Lines())
	}
	change.Renew = func(old ply.Plugin) ply.Plugin {
		s := *old.(*stamp)
		s.gen = 1
		return &s
	}
	rl, err := h.Reload(t.Context(), change)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"store@1.0.0", "api@1.0.0"}, rl.Replaced); diff != "" {
		t.Errorf("replaced (-want +got):\n%s", diff)
	}
	want := []string{"provision store/1", "provision api/1", "validate store/1", "validate api/1",
		"wrap store/1", "wrap api/1", "start store/1", "start api/1",
		"stop api/0", "stop store/0", "cleanup api/0", "cleanup store/0"}
	if diff := cmp.Diff(want, rec.Lines()); diff != "" {
		t.Errorf("hooks (-want +got):\n%s", diff)
	}
}

// A reload waits for the calls of the old generation, and stops the
// replaced instance only after they returned.
func TestReloadDrainsInFlightCalls(t *testing.T) {
	rec := plytest.NewRecorder()
	entered, release := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	h, ch := startHost(t, []ply.Plugin{&stamp{name: "a", rec: rec}}, func(ctx context.Context, c *ply.Call) error {
		if first.CompareAndSwap(false, true) {
			close(entered)
			<-release
			rec.Record("call returned")
		}
		return respondGen(ctx, c)
	})
	served := make(chan error, 1)
	go func() {
		_, err := ch.Serve(t.Context(), nil, nil)
		served <- err
	}()
	<-entered
	rec.Reset()
	reloaded := make(chan error, 1)
	go func() {
		_, err := h.Reload(t.Context(), ply.Change{Plugins: []ply.Plugin{&stamp{name: "a", gen: 1, rec: rec}}})
		reloaded <- err
	}()
	// The new generation serves before the old one drained: this call does
	// not wait for the blocked one.
	for {
		g, err := ch.Serve(t.Context(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if g == int64(1) {
			break
		}
	}
	close(release)
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if err := <-reloaded; err != nil {
		t.Fatal(err)
	}
	lines := rec.Lines()
	i := slicesIndex(lines, "call returned")
	j := slicesIndex(lines, "stop a/0")
	if i < 0 || j < 0 || j < i {
		t.Errorf("the old instance stopped before its call returned: %q", lines)
	}
}

func slicesIndex(lines []string, s string) int {
	for i, l := range lines {
		if l == s {
			return i
		}
	}
	return -1
}

// With a drain grace, a call that outlives it has its context cancelled
// with ErrDrained.
func TestReloadGraceCancelsStragglers(t *testing.T) {
	entered := make(chan struct{})
	var first atomic.Bool
	h, ch := startHost(t, []ply.Plugin{&stamp{name: "a"}}, func(ctx context.Context, _ *ply.Call) error {
		if !first.CompareAndSwap(false, true) {
			return nil
		}
		close(entered)
		<-ctx.Done()
		return context.Cause(ctx)
	}, ply.WithDrainGrace(1))
	served := make(chan error, 1)
	go func() {
		_, err := ch.Serve(t.Context(), nil, nil)
		served <- err
	}()
	<-entered
	if _, err := h.Reload(t.Context(), ply.Change{Plugins: []ply.Plugin{&stamp{name: "a", gen: 1}}}); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, ply.ErrDrained) {
		t.Errorf("the straggler returned %v, want ErrDrained", err)
	}
}

// failing is a plugin whose layer fails every call when bad is set.
type failing struct {
	version string
	bad     bool
}

func (f *failing) Info() ply.Info { return ply.Info{Name: "risky", Version: f.version} }
func (f *failing) Wrap(context.Context, ply.Target) (ply.Wrap, error) {
	return ply.Wrap{Layer: func(ctx context.Context, _ *ply.Call, next ply.Next) error {
		if f.bad {
			return errHook
		}
		return next.Run(ctx)
	}}, nil
}

// The bake swaps the old generation back when the new one fails more.
func TestBakeRollsBack(t *testing.T) {
	h, ch := startHost(t, []ply.Plugin{&failing{version: "1.0.0"}}, func(context.Context, *ply.Call) error { return nil },
		ply.WithBake(time.Hour, 0.05))
	stop := meanwhile(1, func() bool {
		_, _ = ch.Serve(t.Context(), nil, nil)
		return true
	})
	rl, err := h.Reload(t.Context(), ply.Change{Plugins: []ply.Plugin{&failing{version: "1.1.0", bad: true}}})
	stop()
	if !errors.Is(err, ply.ErrRolledBack) || rl.RolledBack == nil {
		t.Fatalf("Reload = %+v, %v; want ErrRolledBack", rl, err)
	}
	t.Log(err)
	if _, err := ch.Serve(t.Context(), nil, nil); err != nil {
		t.Errorf("after the rollback the old generation should serve: %v", err)
	}
	for _, st := range h.Health(t.Context()) {
		if st.Name == "risky" && st.Version != "1.0.0" {
			t.Errorf("health lists %s@%s, want the old version back", st.Name, st.Version)
		}
	}
}

// Health runs while reloads swap the plugins it reports on.
func TestHealthDuringReloads(t *testing.T) {
	h, _ := startHost(t, []ply.Plugin{&stamp{name: "a"}}, respondGen, ply.WithHealthCache(0))
	stop := meanwhile(1, func() bool {
		_ = h.Health(t.Context())
		_ = h.Ready(t.Context())
		return true
	})
	for i := range 50 {
		if _, err := h.Reload(t.Context(), ply.Change{Plugins: []ply.Plugin{&stamp{name: "a", gen: int64(i)}}}); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	if err := h.Ready(t.Context()); err != nil {
		t.Errorf("Ready after reloads = %v", err)
	}
}

// A binder reads each chain's handler options from the chain, as the
// current generation has them.
func TestChainOptionsFollowReloads(t *testing.T) {
	limiter := &optsPlugin{}
	noop := func(context.Context, *ply.Call) error { return nil }
	module := func(rate int) ply.Option {
		return ply.WithModules(ply.Module{Name: "m", Options: map[string]any{"limit": &limitOptions{Rate: rate}},
			Handlers: []ply.Handler{{Kind: ply.KindRPC, Name: "h", Func: noop}}})
	}
	quiet := ply.WithLogger(slog.New(slog.DiscardHandler))
	h := started(t, []ply.Plugin{limiter}, module(5))
	ch, err := h.Chain("m", "h")
	if err != nil {
		t.Fatal(err)
	}
	if got := ch.Options("limit"); !cmp.Equal(got, &limitOptions{Rate: 5}) {
		t.Errorf("Options(limit) = %#v, want rate 5", got)
	}
	if got := ch.Options("other"); got != nil {
		t.Errorf("Options(other) = %#v, want nil", got)
	}
	// The same module mounted again (as a file's reload mounts it): a no-op.
	if rl, err := h.Reload(t.Context(), ply.Change{Options: []ply.Option{module(5), quiet}}); err != nil || !rl.NoChange() {
		t.Errorf("a reload to the same module = %v, %v; want no change", rl, err)
	}
	if _, err := h.Reload(t.Context(), ply.Change{Options: []ply.Option{module(7), quiet}}); err != nil {
		t.Fatal(err)
	}
	if got := ch.Options("limit"); !cmp.Equal(got, &limitOptions{Rate: 7}) {
		t.Errorf("after the reload Options(limit) = %#v, want rate 7", got)
	}
}

type optsPlugin struct{}

func (*optsPlugin) Info() ply.Info      { return ply.Info{Name: "limit", Version: "1.0.0"} }
func (*optsPlugin) HandlerOptions() any { return &limitOptions{} }

// An optional plugin that fails in one reload is left out of that
// generation only: the next reload with a working instance puts it back,
// and readiness never sticks to the failure.
func TestReloadOptionalFailureIsNotForever(t *testing.T) {
	opt := func(fail string) ply.Plugin {
		return &optional{stamp: stamp{name: "opt", gen: 7, fail: fail}}
	}
	h, ch := startHost(t, []ply.Plugin{opt("")}, respondGen)
	if _, err := h.Reload(t.Context(), ply.Change{Plugins: []ply.Plugin{opt(ply.OpWrap)}}); err != nil {
		t.Fatalf("a reload whose optional plugin fails = %v, want it to go on without the plugin", err)
	}
	if g, err := ch.Serve(t.Context(), nil, nil); err != nil || g != int64(0) {
		t.Errorf("with opt left out the chain answered %v, %v; want no stamp", g, err)
	}
	if err := h.Ready(t.Context()); err != nil {
		t.Errorf("Ready with an optional plugin failed = %v, want ready", err)
	}
	if _, err := h.Reload(t.Context(), ply.Change{Plugins: []ply.Plugin{opt("")}}); err != nil {
		t.Fatal(err)
	}
	if g, err := ch.Serve(t.Context(), nil, nil); err != nil || g != int64(7) {
		t.Errorf("after a reload with a working opt the chain answered %v, %v; want its stamp", g, err)
	}
	for _, st := range h.Health(t.Context()) {
		if st.State != ply.StateOK {
			t.Errorf("%s is %s, want ok", st.Name, st.State)
		}
	}
}

type optional struct{ stamp }

func (o *optional) Info() ply.Info {
	i := o.stamp.Info()
	i.Policy = ply.PolicyOptional
	return i
}

// Plans say which plugins are lazy.
func TestExplainShowsLazy(t *testing.T) {
	h, err := ply.New([]ply.Plugin{&stamp{name: "a"}, &stamp{name: "b"}}, ply.WithLazy("b"))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := h.Plan()
	if err != nil {
		t.Fatal(err)
	}
	want := "lifecycle order:\n  1. a@1.0.0  business 300\n  2. b@1.0.0  business 300 lazy same priority 300 (business), registered earlier (#1 < #2)\n"
	if diff := cmp.Diff(want, plan.Explain(ply.LifecycleOrder).String()); diff != "" {
		t.Errorf("explain (-want +got):\n%s", diff)
	}
}
