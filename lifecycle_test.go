package ply_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply"
)

func TestLifecycleOrder(t *testing.T) {
	for _, tt := range []struct {
		name  string
		specs []p
		want  []string // lifecycle order
	}{
		{name: "priority bands", specs: []p{{name: "route", prio: ply.Route}, {name: "app"}, {name: "auth", prio: ply.Security}, {name: "log", prio: ply.Logging}},
			want: []string{"auth", "log", "app", "route"}},
		{name: "ties keep registration order", specs: []p{{name: "c"}, {name: "a"}, {name: "b"}},
			want: []string{"c", "a", "b"}},
		{name: "dependency before dependent whatever the priority",
			specs: []p{{name: "A", prio: 50, requires: []ply.Dependency{{Name: "B"}}}, {name: "B", prio: 400}, {name: "C", prio: 100}},
			want:  []string{"C", "B", "A"}},
		{name: "before/after do not reorder the lifecycle",
			specs: []p{{name: "a", before: []string{"b"}, prio: 300}, {name: "b", prio: 100}},
			want:  []string{"b", "a"}},
		{name: "absent optional dependency is fine",
			specs: []p{{name: "a", requires: []ply.Dependency{{Name: "ghost", Optional: true}}}},
			want:  []string{"a"}},
		{name: "composite children follow it in order",
			specs: []p{{name: "x", prio: 200}, {name: "group", prio: 300, children: plugins(p{name: "g2", prio: 50}, p{name: "g1", prio: 50})}},
			want:  []string{"x", "group", "g2", "g1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lines, startErr, stopErr := run(t, plugins(tt.specs...))
			if startErr != nil || stopErr != nil {
				t.Fatalf("start = %v, stop = %v", startErr, stopErr)
			}
			if diff := cmp.Diff(fullRun(tt.want...), lines); diff != "" {
				t.Errorf("trace (-want +got):\n%s", diff)
			}
		})
	}
}

// Registration order never matters when the order is fully decided by
// priorities and constraints.
func TestShuffledRegistration(t *testing.T) {
	specs := []p{
		{name: "recover", prio: ply.System},
		{name: "auth", prio: ply.Security, requires: []ply.Dependency{{Name: "keys", Constraint: "^1"}}},
		{name: "keys", prio: ply.Business},
		{name: "ratelimit", prio: ply.Security, after: []string{"auth"}},
		{name: "log", prio: ply.Logging},
		{name: "cache", prio: ply.Performance},
		{name: "router", prio: ply.Route},
	}
	wantLife := []string{"recover", "ratelimit", "log", "keys", "auth", "cache", "router"}
	wantChain := []string{"recover", "auth", "ratelimit", "log", "keys", "cache", "router"}
	r := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // seeded on purpose: reproducible shuffles, not a secret
	for range 30 {
		r.Shuffle(len(specs), func(i, j int) { specs[i], specs[j] = specs[j], specs[i] })
		h, err := ply.New(plugins(specs...))
		if err != nil {
			t.Fatal(err)
		}
		plan, err := h.Plan()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantLife, names(plan.Order(ply.LifecycleOrder))); diff != "" {
			t.Errorf("lifecycle order (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantChain, names(plan.Order(ply.ChainOrder))); diff != "" {
			t.Errorf("chain order (-want +got):\n%s", diff)
		}
	}
}

func names(infos []ply.Info) []string {
	out := make([]string, len(infos))
	for i, in := range infos {
		out[i] = in.Name
	}
	return out
}

func TestRollback(t *testing.T) {
	for _, tt := range []struct {
		name      string
		specs     []p
		want      []string
		wantOp    string // of the *PluginError
		wantPanic bool
	}{
		{
			name:   "failing start stops what started and cleans up everything provisioned",
			specs:  []p{{name: "a"}, {name: "b"}, {name: "c", fail: map[string]error{ply.OpStart: errBoom}}, {name: "d"}},
			want:   trace(all("provision", "a", "b", "c", "d"), all("validate", "a", "b", "c", "d"), all("beforestart", "a", "b", "c", "d"), all("start", "a", "b"), []string{"start", "c: start c@1.0.0: boom"}, all("stop", "b", "a"), all("cleanup", "d", "c", "b", "a")),
			wantOp: ply.OpStart,
		},
		{
			name:      "panicking start",
			specs:     []p{{name: "a"}, {name: "b", panics: ply.OpStart}},
			want:      trace(all("provision", "a", "b"), all("validate", "a", "b"), all("beforestart", "a", "b"), all("start", "a"), []string{"start", "b: start b@1.0.0: panic: start exploded"}, all("stop", "a"), all("cleanup", "b", "a")),
			wantOp:    ply.OpStart,
			wantPanic: true,
		},
		{
			name:   "failing provision is still cleaned up; later plugins never provisioned",
			specs:  []p{{name: "a"}, {name: "b", fail: map[string]error{ply.OpProvision: errBoom}}, {name: "c"}},
			want:   trace(all("provision", "a"), []string{"provision", "b: provision b@1.0.0: boom"}, all("cleanup", "b", "a")),
			wantOp: ply.OpProvision,
		},
		{
			name:   "failing afterstart stops everything started",
			specs:  []p{{name: "a"}, {name: "b", fail: map[string]error{ply.OpAfterStart: errBoom}}},
			want:   trace(all("provision", "a", "b"), all("validate", "a", "b"), all("beforestart", "a", "b"), all("start", "a", "b"), all("afterstart", "a"), []string{"afterstart", "b: afterstart b@1.0.0: boom"}, all("stop", "b", "a"), all("cleanup", "b", "a")),
			wantOp: ply.OpAfterStart,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lines, startErr, stopErr := run(t, plugins(tt.specs...))
			if diff := cmp.Diff(tt.want, lines); diff != "" {
				t.Errorf("trace (-want +got):\n%s", diff)
			}
			pe, ok := errors.AsType[*ply.PluginError](startErr)
			if !ok || pe.Op != tt.wantOp {
				t.Fatalf("start error = %v, want a *PluginError for %s", startErr, tt.wantOp)
			}
			if _, isPanic := errors.AsType[*ply.PanicError](startErr); isPanic != tt.wantPanic {
				t.Errorf("start error %v: is panic = %v, want %v", startErr, isPanic, tt.wantPanic)
			}
			if stopErr != nil {
				t.Errorf("Stop after a failed Start = %v, want nil (no hooks)", stopErr)
			}
		})
	}
}

func TestStartTimeoutAbandonsHook(t *testing.T) {
	release := make(chan struct{})
	defer close(release) // let the abandoned hook finish before goleak looks
	specs := []p{{name: "a"}, {name: "slow", blocks: ply.OpStart, release: release}}
	lines, startErr, _ := run(t, plugins(specs...), ply.WithTimeout(ply.OpStart, 300*time.Millisecond)) // generous: only the blocked hook may time out
	if !errors.Is(startErr, context.DeadlineExceeded) {
		t.Fatalf("start error = %v, want context.DeadlineExceeded", startErr)
	}
	want := trace(all("provision", "a", "slow"), all("validate", "a", "slow"), all("beforestart", "a", "slow"), all("start", "a"))
	want = append(want, "start slow: "+startErr.Error()) // the slow plugin is not stopped, but is cleaned up
	want = append(want, trace(all("stop", "a"), all("cleanup", "slow", "a"))...)
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
}

func TestValidateAllRunAndJoin(t *testing.T) {
	specs := []p{{name: "a", fail: map[string]error{ply.OpValidate: errBoom}}, {name: "b"}, {name: "c", fail: map[string]error{ply.OpValidate: errors.New("bad")}}}
	lines, startErr, _ := run(t, plugins(specs...))
	want := trace(all("provision", "a", "b", "c"), []string{"validate", "a: validate a@1.0.0: boom"}, all("validate", "b"), []string{"validate", "c: validate c@1.0.0: bad"}, all("cleanup", "c", "b", "a"))
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
	if got := startErr.Error(); got != "validate a@1.0.0: boom\nvalidate c@1.0.0: bad" {
		t.Errorf("start error = %q", got)
	}
}

func TestStopRunsEveryHookAndJoins(t *testing.T) {
	errStop, errClean := errors.New("stop failed"), errors.New("cleanup failed")
	specs := []p{{name: "a", fail: map[string]error{ply.OpStop: errStop}}, {name: "b", panics: ply.OpStop}, {name: "c", fail: map[string]error{ply.OpCleanup: errClean}}}
	rec, h := newHost(t, plugins(specs...))
	if err := h.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	rec.Reset()
	err := h.Stop(t.Context())
	for _, target := range []error{errStop, errClean} {
		if !errors.Is(err, target) {
			t.Errorf("Stop() = %v, want it to match %v", err, target)
		}
	}
	wantMsg := "stop b@1.0.0: panic: stop exploded\nstop a@1.0.0: stop failed\ncleanup c@1.0.0: cleanup failed"
	if err == nil || err.Error() != wantMsg {
		t.Errorf("Stop() = %q, want %q", err, wantMsg)
	}
	if diff := cmp.Diff(trace(all("stop", "c"), []string{"stop", "b: stop b@1.0.0: panic: stop exploded"}, []string{"stop", "a: stop a@1.0.0: stop failed"}, []string{"cleanup", "c: cleanup c@1.0.0: cleanup failed"}, all("cleanup", "b", "a")), rec.Lines()); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
	rec.Reset()
	if err := h.Stop(t.Context()); err != nil || len(rec.Lines()) != 0 {
		t.Errorf("second Stop() = %v, ran %v; want nil and no hooks", err, rec.Lines())
	}
}

func TestOptionalPolicy(t *testing.T) {
	t.Run("host runs without a failed optional plugin", func(t *testing.T) {
		specs := []p{{name: "extra", policy: ply.PolicyOptional, fail: map[string]error{ply.OpStart: errBoom}}, {name: "app"}}
		rec, h := newHost(t, plugins(specs...))
		if err := h.Start(t.Context()); err != nil {
			t.Fatalf("Start() = %v, want nil", err)
		}
		defer func() {
			if err := h.Stop(t.Context()); err != nil {
				t.Errorf("Stop: %v", err)
			}
		}()
		want := trace(all("provision", "extra", "app"), all("validate", "extra", "app"), all("beforestart", "extra", "app"), []string{"start", "extra: start extra@1.0.0: boom"}, all("start", "app"), all("afterstart", "app"))
		if diff := cmp.Diff(want, rec.Lines()); diff != "" {
			t.Errorf("trace (-want +got):\n%s", diff)
		}
		got := map[string]ply.State{}
		for _, st := range h.Health(t.Context()) {
			got[st.Name] = st.State
		}
		if diff := cmp.Diff(map[string]ply.State{"extra": ply.StateFailed, "app": ply.StateOK}, got); diff != "" {
			t.Errorf("health (-want +got):\n%s", diff)
		}
		if err := h.Ready(t.Context()); err != nil {
			t.Errorf("Ready() = %v, want nil: only an optional plugin failed", err)
		}
	})
	t.Run("a required dependent of a failed optional plugin fails the host", func(t *testing.T) {
		specs := []p{{name: "extra", policy: ply.PolicyOptional, fail: map[string]error{ply.OpProvision: errBoom}}, {name: "app", requires: []ply.Dependency{{Name: "extra"}}}}
		_, startErr, _ := run(t, plugins(specs...))
		de, ok := errors.AsType[*ply.DependencyError](startErr)
		if !ok || de.Plugin != "app" || de.Dependency != "extra" || !errors.Is(startErr, errBoom) {
			t.Errorf("Start() = %v, want a *DependencyError of app on extra wrapping boom", startErr)
		}
	})
}

func TestDefaults(t *testing.T) {
	defaults := plugins(p{name: "recover", prio: ply.System}, p{name: "log", prio: ply.Logging}, p{name: "metrics", prio: ply.Logging})
	for _, tt := range []struct {
		name string
		opts []ply.Option
		regs []ply.Plugin
		want []string // provision order, with versions
	}{
		{name: "defaults come first", opts: []ply.Option{ply.WithDefaults(defaults...)}, regs: plugins(p{name: "app", prio: ply.Logging}),
			want: []string{"recover@1.0.0", "log@1.0.0", "metrics@1.0.0", "app@1.0.0"}},
		{name: "same name replaces the default in its slot", opts: []ply.Option{ply.WithDefaults(defaults...)}, regs: plugins(p{name: "app", prio: ply.Logging}, p{name: "log", version: "2.0.0", prio: ply.Logging}),
			want: []string{"recover@1.0.0", "log@2.0.0", "metrics@1.0.0", "app@1.0.0"}},
		{name: "without defaults", opts: []ply.Option{ply.WithDefaults(defaults...), ply.WithoutDefaults()}, regs: plugins(p{name: "app"}),
			want: []string{"app@1.0.0"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			opts := append(slices.Clone(tt.opts), ply.WithObserver(func(s ply.Step) {
				if s.Op == ply.OpProvision {
					got = append(got, s.Plugin+"@"+s.Version)
				}
			}))
			h, err := ply.New(tt.regs, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if err := h.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			if err := h.Stop(t.Context()); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("provisioned (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRegisterAfterStart(t *testing.T) {
	_, h := newHost(t, plugins(p{name: "a"}))
	if err := h.Register(p{name: "b"}.plugin()); err != nil {
		t.Fatalf("Register before Start = %v", err)
	}
	if err := h.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := h.Stop(t.Context()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	}()
	if err := h.Register(p{name: "c"}.plugin()); !errors.Is(err, ply.ErrStarted) {
		t.Errorf("Register after Start = %v, want ErrStarted", err)
	}
	if err := h.Start(t.Context()); !errors.Is(err, ply.ErrStarted) {
		t.Errorf("second Start = %v, want ErrStarted", err)
	}
}

func TestHealth(t *testing.T) {
	var state error
	hp := ply.Func{Meta: ply.Info{Name: "db", Version: "1.0.0"}, OnHealth: func(context.Context) error { return state }}
	_, h := newHost(t, []ply.Plugin{hp}, ply.WithHealthCache(0))
	if got := h.Health(t.Context()); got != nil {
		t.Errorf("Health before start = %v, want nil", got)
	}
	if err := h.Ready(t.Context()); err == nil {
		t.Error("Ready before start = nil, want an error")
	}
	if err := h.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		err  error
		want ply.State
	}{{nil, ply.StateOK}, {errors.Join(ply.ErrDegraded, errBoom), ply.StateDegraded}, {errBoom, ply.StateFailed}, {nil, ply.StateOK}, {errBoom, ply.StateFailed}} {
		state = tt.err
		if got := h.Health(t.Context())[0].State; got != tt.want {
			t.Errorf("Health with %v = %v, want %v", tt.err, got, tt.want)
		}
	}
	if err := h.Ready(t.Context()); err == nil || !strings.Contains(err.Error(), "db@1.0.0 is failed") {
		t.Errorf("Ready() = %v, want db failed", err)
	}
	if err := h.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := h.Health(t.Context())[0].State; got != ply.StateStopped {
		t.Errorf("Health after stop = %v, want stopped", got)
	}
}

func TestRunStopsOnContextCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	rec, h := newHost(t, []ply.Plugin{ply.Func{
		Meta:    ply.Info{Name: "a", Version: "1.0.0"},
		OnStart: func(context.Context) error { cancel(); return nil },
		OnStop:  func(context.Context) error { return nil },
	}})
	if err := h.Run(ctx); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	if diff := cmp.Diff([]string{"start a", "stop a"}, rec.Lines()); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
}

func TestOptionErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		opt  ply.Option
	}{
		{"unknown hook", ply.WithTimeout("launch", time.Second)},
		{"zero timeout", ply.WithTimeout(ply.OpStart, 0)},
		{"nil logger", ply.WithLogger(nil)},
		{"nil option", nil},
		{"bad stop timeout", ply.WithStopTimeout(-1)},
		{"negative health cache", ply.WithHealthCache(-time.Second)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ply.New(nil, tt.opt); err == nil {
				t.Error("New() = nil error, want one")
			}
		})
	}
}
