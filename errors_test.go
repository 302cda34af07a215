package ply_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/plykit/ply"
)

var nextMisuses = []error{ply.ErrNextConcurrent, ply.ErrNextAfterReturn, ply.ErrNextStillRunning}

// checkMisuse checks that err is a *PluginError naming plugin whose kind of
// next misuse is want, and no other kind.
func checkMisuse(t *testing.T, err error, plugin string, want error) {
	t.Helper()
	pe, ok := errors.AsType[*ply.PluginError](err)
	if !ok || pe.Plugin != plugin || pe.Op != ply.OpLayer {
		t.Errorf("error = %v, want a *PluginError naming %s's layer", err, plugin)
	}
	if !errors.Is(err, ply.ErrNextMisused) {
		t.Errorf("error = %v, want it to match ErrNextMisused", err)
	}
	for _, kind := range nextMisuses {
		if got, isWant := errors.Is(err, kind), errors.Is(kind, want); got != isWant {
			t.Errorf("errors.Is(%v, %v) = %v, want %v", err, kind, got, isWant)
		}
	}
}

func TestNextMisuseKinds(t *testing.T) {
	ok := func(context.Context, *ply.Call) error { return nil }
	for _, tt := range []struct {
		name string
		// call builds the plugins of a chain, serves it once, and then
		// misuses a next; it returns the error of the misused next.
		call   func(t *testing.T) error
		plugin string // the misusing plugin
		want   error
	}{
		{name: "outermost layer's next, after the call", plugin: "keeper", want: ply.ErrNextAfterReturn,
			call: func(t *testing.T) error {
				t.Helper()
				var kept ply.Next
				keep := func(ctx context.Context, _ *ply.Call, next ply.Next) error { kept = next; return next.Run(ctx) }
				ch := mount(t, []ply.Plugin{layerPlugin("keeper", 100, keep, nil)}, ok)
				if _, err := ch.Serve(t.Context(), nil, nil); err != nil {
					t.Fatal(err)
				}
				return kept.Run(t.Context())
			}},
		{name: "inner layer's next, after the call", plugin: "keeper", want: ply.ErrNextAfterReturn,
			call: func(t *testing.T) error {
				t.Helper()
				var kept ply.Next
				keep := func(ctx context.Context, _ *ply.Call, next ply.Next) error { kept = next; return next.Run(ctx) }
				pass := func(ctx context.Context, _ *ply.Call, next ply.Next) error { return next.Run(ctx) }
				ch := mount(t, []ply.Plugin{layerPlugin("outer", 100, pass, nil), layerPlugin("keeper", 200, keep, nil)}, ok)
				if _, err := ch.Serve(t.Context(), nil, nil); err != nil {
					t.Fatal(err)
				}
				return kept.Run(t.Context())
			}},
		{name: "short-circuiting layer's next, after the call", plugin: "keeper", want: ply.ErrNextAfterReturn,
			call: func(t *testing.T) error {
				t.Helper()
				var kept ply.Next
				keep := func(_ context.Context, _ *ply.Call, next ply.Next) error { kept = next; return nil }
				ch := mount(t, []ply.Plugin{layerPlugin("keeper", 100, keep, nil)}, ok)
				if _, err := ch.Serve(t.Context(), nil, nil); err != nil {
					t.Fatal(err)
				}
				return kept.Run(t.Context())
			}},
		{name: "inner short-circuiting layer's next, after the call", plugin: "keeper", want: ply.ErrNextAfterReturn,
			call: func(t *testing.T) error {
				t.Helper()
				var kept ply.Next
				keep := func(_ context.Context, _ *ply.Call, next ply.Next) error { kept = next; return nil }
				pass := func(ctx context.Context, _ *ply.Call, next ply.Next) error { return next.Run(ctx) }
				ch := mount(t, []ply.Plugin{layerPlugin("outer", 100, pass, nil), layerPlugin("keeper", 200, keep, nil)}, ok)
				if _, err := ch.Serve(t.Context(), nil, nil); err != nil {
					t.Fatal(err)
				}
				return kept.Run(t.Context())
			}},
		{name: "outermost layer's next, from an after-hook", plugin: "keeper", want: ply.ErrNextAfterReturn,
			call: func(t *testing.T) error {
				t.Helper()
				var kept ply.Next
				var late error
				keep := func(ctx context.Context, _ *ply.Call, next ply.Next) error { kept = next; return next.Run(ctx) }
				hook := func(ctx context.Context, _ *ply.Call, err error, _ bool) error { late = kept.Run(ctx); return err }
				ch := mount(t, []ply.Plugin{layerPlugin("keeper", 100, keep, hook)}, ok)
				if _, err := ch.Serve(t.Context(), nil, nil); err != nil {
					t.Fatal(err)
				}
				return late
			}},
		{name: "inner layer's next, from the outer layer after it returned", plugin: "keeper", want: ply.ErrNextAfterReturn,
			call: func(t *testing.T) error {
				t.Helper()
				var kept ply.Next
				var late error
				keep := func(ctx context.Context, _ *ply.Call, next ply.Next) error { kept = next; return next.Run(ctx) }
				outer := func(ctx context.Context, _ *ply.Call, next ply.Next) error {
					err := next.Run(ctx)
					late = kept.Run(ctx)
					return err
				}
				ch := mount(t, []ply.Plugin{layerPlugin("outer", 100, outer, nil), layerPlugin("keeper", 200, keep, nil)}, ok)
				if _, err := ch.Serve(t.Context(), nil, nil); err != nil {
					t.Fatal(err)
				}
				return late
			}},
		{name: "an earlier invocation's next, during a retry", plugin: "keeper", want: ply.ErrNextAfterReturn,
			call: func(t *testing.T) error {
				t.Helper()
				var kept ply.Next
				var late error
				first := true
				keep := func(ctx context.Context, _ *ply.Call, next ply.Next) error {
					if first {
						first, kept = false, next
						return next.Run(ctx)
					}
					late = kept.Run(ctx)
					return next.Run(ctx)
				}
				retry := func(ctx context.Context, _ *ply.Call, next ply.Next) error {
					_ = next.Run(ctx)
					return next.Run(ctx)
				}
				ch := mount(t, []ply.Plugin{layerPlugin("retry", 100, retry, nil), layerPlugin("keeper", 200, keep, nil)}, ok)
				if _, err := ch.Serve(t.Context(), nil, nil); err != nil {
					t.Fatal(err)
				}
				return late
			}},
		{name: "composed member's next, after the call", plugin: "group", want: ply.ErrNextAfterReturn,
			call: func(t *testing.T) error {
				t.Helper()
				var kept ply.Next
				keep := func(ctx context.Context, _ *ply.Call, next ply.Next) error { kept = next; return next.Run(ctx) }
				pass := func(ctx context.Context, _ *ply.Call, next ply.Next) error { return next.Run(ctx) }
				ch := mount(t, []ply.Plugin{layerPlugin("group", 100, ply.Compose(keep, pass), nil)}, ok)
				if _, err := ch.Serve(t.Context(), nil, nil); err != nil {
					t.Fatal(err)
				}
				return kept.Run(t.Context())
			}},
		{name: "next called concurrently", plugin: "twice", want: ply.ErrNextConcurrent,
			call: func(t *testing.T) error {
				t.Helper()
				entered, done := make(chan struct{}), make(chan error)
				twice := func(ctx context.Context, _ *ply.Call, next ply.Next) error {
					go func() { <-entered; done <- next.Run(ctx) }()
					return next.Run(ctx)
				}
				var second error
				handler := func(context.Context, *ply.Call) error { close(entered); second = <-done; return nil }
				ch := mount(t, []ply.Plugin{layerPlugin("twice", 100, twice, nil)}, handler)
				if _, err := ch.Serve(t.Context(), nil, nil); err != nil {
					t.Fatal(err)
				}
				return second
			}},
		{name: "layer returned while its next ran", plugin: "leaver", want: ply.ErrNextStillRunning,
			call: func(t *testing.T) error {
				t.Helper()
				entered, release, finished := make(chan struct{}), make(chan struct{}), make(chan error)
				leaver := func(ctx context.Context, _ *ply.Call, next ply.Next) error {
					go func() { finished <- next.Run(ctx) }()
					<-entered
					return nil
				}
				handler := func(context.Context, *ply.Call) error { close(entered); <-release; return nil }
				ch := mount(t, []ply.Plugin{layerPlugin("leaver", 100, leaver, nil)}, handler)
				if _, err := ch.Serve(t.Context(), nil, nil); err != nil {
					t.Fatal(err)
				}
				close(release)
				return <-finished
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checkMisuse(t, tt.call(t), tt.plugin, tt.want)
		})
	}
}

func TestBuildErrorKinds(t *testing.T) {
	handler := func(context.Context, *ply.Call) error { return nil }
	for _, tt := range []struct {
		name    string
		specs   []p
		modules []ply.Module
		is      []error // every one must match
		isNot   []error // none may match
	}{
		{name: "empty plugin name", specs: []p{{name: ""}},
			is: []error{ply.ErrEmptyName, ply.ErrInvalidInfo}, isNot: []error{ply.ErrDuplicate, ply.ErrUnknownName}},
		{name: "unknown Before name", specs: []p{{name: "a", before: []string{"nope"}}},
			is: []error{ply.ErrUnknownName, ply.ErrInvalidInfo}, isNot: []error{ply.ErrEmptyName, ply.ErrNotRegistered}},
		{name: "unknown After name", specs: []p{{name: "a", after: []string{"nope"}}},
			is: []error{ply.ErrUnknownName, ply.ErrInvalidInfo}, isNot: []error{ply.ErrEmptyName, ply.ErrNotRegistered}},
		{name: "empty module name", modules: []ply.Module{{Handlers: []ply.Handler{{Kind: ply.KindRPC, Name: "h", Func: handler}}}},
			is: []error{ply.ErrEmptyName}, isNot: []error{ply.ErrDuplicate}},
		{name: "empty handler name", modules: []ply.Module{{Name: "m", Handlers: []ply.Handler{{Kind: ply.KindRPC, Func: handler}}}},
			is: []error{ply.ErrEmptyName}, isNot: []error{ply.ErrDuplicate}},
		{name: "duplicate module name", modules: []ply.Module{{Name: "m"}, {Name: "m"}},
			is: []error{ply.ErrDuplicate}, isNot: []error{ply.ErrEmptyName}},
		{name: "duplicate handler name", modules: []ply.Module{{Name: "m", Handlers: []ply.Handler{{Kind: ply.KindRPC, Name: "h", Func: handler}, {Kind: ply.KindRPC, Name: "h", Func: handler}}}},
			is: []error{ply.ErrDuplicate}, isNot: []error{ply.ErrEmptyName}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ply.New(plugins(tt.specs...), ply.WithModules(tt.modules...))
			if err != nil {
				t.Fatal(err)
			}
			_, err = h.Plan()
			if err == nil {
				t.Fatal("Plan() = nil, want an error")
			}
			for _, target := range tt.is {
				if !errors.Is(err, target) {
					t.Errorf("Plan() = %v, want it to match %v", err, target)
				}
			}
			for _, target := range tt.isNot {
				if errors.Is(err, target) {
					t.Errorf("Plan() = %v, want it not to match %v", err, target)
				}
			}
		})
	}
}

// A hook abandoned at its deadline is told apart from one that returned
// context.DeadlineExceeded itself.
func TestHookTimeoutKinds(t *testing.T) {
	for _, tt := range []struct {
		name        string
		start       func(ctx context.Context, release <-chan struct{}) error
		wantTimeout bool
	}{
		{name: "ignores its context: abandoned", wantTimeout: true,
			start: func(_ context.Context, release <-chan struct{}) error { <-release; return nil }},
		{name: "returns its context's error", wantTimeout: false,
			start: func(ctx context.Context, _ <-chan struct{}) error { <-ctx.Done(); return ctx.Err() }},
		{name: "returns its own deadline error", wantTimeout: false,
			start: func(context.Context, <-chan struct{}) error {
				return &ply.PluginError{Op: "dial", Plugin: "db", Err: context.DeadlineExceeded}
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				release := make(chan struct{})
				defer close(release)
				slow := ply.Func{Meta: ply.Info{Name: "slow", Version: "1.0.0"},
					OnStart: func(ctx context.Context) error { return tt.start(ctx, release) }}
				h, err := ply.New([]ply.Plugin{slow}, ply.WithTimeout(ply.OpStart, time.Second), ply.WithLogger(discard))
				if err != nil {
					t.Fatal(err)
				}
				err = h.Start(t.Context())
				pe, ok := errors.AsType[*ply.PluginError](err)
				if !ok || pe.Plugin != "slow" || pe.Op != ply.OpStart {
					t.Errorf("Start() = %v, want a *PluginError naming slow's start", err)
				}
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Start() = %v, want it to match context.DeadlineExceeded", err)
				}
				if got := errors.Is(err, ply.ErrHookTimeout); got != tt.wantTimeout {
					t.Errorf("errors.Is(%v, ErrHookTimeout) = %v, want %v", err, got, tt.wantTimeout)
				}
			})
		})
	}
}

func TestHostStateErrors(t *testing.T) {
	h, err := ply.New(nil, ply.WithModules(ply.Module{Name: "m", Handlers: []ply.Handler{{Kind: ply.KindRPC, Name: "h",
		Func: func(context.Context, *ply.Call) error { return nil }}}}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Chain("m", "h"); !errors.Is(err, ply.ErrNoChain) {
		t.Errorf("Chain before Start = %v, want ErrNoChain", err)
	}
	if err := h.Ready(t.Context()); !errors.Is(err, ply.ErrNotStarted) {
		t.Errorf("Ready before Start = %v, want ErrNotStarted", err)
	}
	if _, err := h.Reload(t.Context(), ply.Change{}); !errors.Is(err, ply.ErrNotStarted) {
		t.Errorf("Reload before Start = %v, want ErrNotStarted", err)
	}
	if err := h.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Chain("m", "h"); err != nil {
		t.Errorf("Chain(m, h) = %v, want the chain", err)
	}
	if _, err := h.Chain("m", "nope"); !errors.Is(err, ply.ErrNoChain) {
		t.Errorf("Chain(m, nope) = %v, want ErrNoChain", err)
	}
	if err := h.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := h.Ready(t.Context()); !errors.Is(err, ply.ErrNotStarted) {
		t.Errorf("Ready after Stop = %v, want ErrNotStarted", err)
	}
}
