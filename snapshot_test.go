package ply_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply"
	"github.com/plykit/ply/plytest"
)

// Two hosts built from the same plugin values share no wrapped state.
func TestTwoHostsSideBySide(t *testing.T) {
	var wraps atomic.Int64
	shared := ply.Func{
		Meta: ply.Info{Name: "counter", Version: "1.0.0"},
		OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
			var calls int // per chain, per host
			wraps.Add(1)
			return ply.Wrap{Layer: func(ctx context.Context, c *ply.Call, next ply.Next) error {
				calls++
				c.SetResponse(calls)
				return next.Run(ctx)
			}}, nil
		},
	}
	noop := func(context.Context, *ply.Call) error { return nil }
	a, b := mount(t, []ply.Plugin{shared}, noop), mount(t, []ply.Plugin{shared}, noop)
	for range 3 {
		_, _ = a.Serve(t.Context(), nil, nil)
	}
	got, _ := b.Serve(t.Context(), nil, nil)
	if got != 1 || wraps.Load() != 2 {
		t.Errorf("host b's first call saw %v calls (wraps %d); want 1 and 2 wraps", got, wraps.Load())
	}
}

type limitOptions struct {
	Rate  int `json:"rate,omitempty" jsonschema:"minimum=1"`
	Burst int `json:"burst,omitempty" jsonschema:"minimum=0"`
}

func TestModuleAndHandlerOptions(t *testing.T) {
	var seen []string
	limiter := ply.Func{
		Meta:        ply.Info{Name: "limit", Version: "1.0.0"},
		HandlerOpts: func() any { return &limitOptions{} },
		OnWrap: func(_ context.Context, t ply.Target) (ply.Wrap, error) {
			seen = append(seen, fmt.Sprintf("%s %+v", t.Handler.Name, t.Options))
			return ply.Wrap{}, nil
		},
	}
	noop := func(context.Context, *ply.Call) error { return nil }
	build := func(m ply.Module) error {
		h, err := ply.New([]ply.Plugin{limiter, ply.Func{Meta: ply.Info{Name: "plain", Version: "1.0.0"}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Mount(m); err != nil {
			t.Fatal(err)
		}
		if err := h.Start(t.Context()); err != nil {
			return err
		}
		return h.Stop(t.Context())
	}
	t.Run("handler options replace module options", func(t *testing.T) {
		err := build(ply.Module{Name: "users", Options: map[string]any{"limit": &limitOptions{Rate: 5}}, Handlers: []ply.Handler{
			{Kind: ply.KindRPC, Name: "get", Func: noop},
			{Kind: ply.KindRPC, Name: "put", Func: noop, Options: map[string]any{"limit": ply.RawOptions{File: "ply.yaml", Data: []byte("rate: 1\nburst: 2\n")}}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"get &{Rate:5 Burst:0}", "put &{Rate:1 Burst:2}"}, seen); diff != "" {
			t.Errorf("options seen in Wrap (-want +got):\n%s", diff)
		}
	})
	t.Run("every problem, named by module, handler and plugin", func(t *testing.T) {
		err := build(ply.Module{Name: "users", Options: map[string]any{"limit": &limitOptions{Rate: 0, Burst: -1}, "plain": &limitOptions{}, "ghost": 1}, Handlers: []ply.Handler{
			{Kind: ply.KindRPC, Name: "get", Func: noop, Options: map[string]any{"limit": ply.RawOptions{File: "ply.yaml", Data: []byte("rate: -3\n")}}},
			{Kind: ply.KindRPC, Name: "get", Func: noop},
		}})
		want := []string{
			"module users (plugin ghost): no plugin of that name is registered",
			"module users (plugin limit): burst: must be >= 0, got -1",
			"module users (plugin plain): the plugin takes no module or handler options",
			"ply.yaml:1:7: module users, handler get (plugin limit): rate: must be >= 1",
			"mount module users: handler get: mounted twice; handler names are unique in a module: ply: duplicate",
		}
		var got []string
		if err != nil {
			got = splitLines(err.Error())
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("errors (-want +got):\n%s", diff)
		}
	})
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := range len(s) {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func TestChainExplain(t *testing.T) {
	noop := func(context.Context, *ply.Call) error { return nil }
	ch := mount(t, []ply.Plugin{
		layerPlugin("cache", ply.Performance, func(ctx context.Context, _ *ply.Call, n ply.Next) error { return n.Run(ctx) }, nil),
		layerPlugin("metrics", ply.Logging, nil, func(_ context.Context, _ *ply.Call, err error, _ bool) error { return err }),
		ply.Func{Meta: ply.Info{Name: "idle", Version: "1.0.0"}},
		ply.Func{Meta: ply.Info{Name: "auth", Version: "2.0.0", Priority: ply.Security, After: []string{"cache"}},
			OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
				return ply.Wrap{Layer: func(ctx context.Context, _ *ply.Call, n ply.Next) error { return n.Run(ctx) },
					After: func(_ context.Context, _ *ply.Call, err error, _ bool) error { return err }}, nil
			}},
	}, noop)
	want := `chain of m/h:
  1. metrics@1.0.0  logging 200 after-only
  2. cache@1.0.0    performance 400  priority 200 (logging) < 400 (performance)
  3. auth@2.0.0     security 100 +after auth declares After("cache")
`
	if diff := cmp.Diff(want, ch.Explain().String()); diff != "" {
		t.Errorf("explain (-want +got):\n%s", diff)
	}
}

func TestPreview(t *testing.T) {
	rec := plytest.NewRecorder()
	p := ply.Func{Meta: ply.Info{Name: "p", Version: "1.0.0"},
		OnProvision: func(context.Context, *ply.Setup) error { return nil },
		OnStart:     func(context.Context) error { return nil },
		OnCleanup:   func(context.Context) error { return nil },
		OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
			return ply.Wrap{Layer: func(ctx context.Context, _ *ply.Call, n ply.Next) error { return n.Run(ctx) }}, nil
		}}
	h, _ := ply.New([]ply.Plugin{p}, ply.WithObserver(rec.Observe),
		ply.WithModules(ply.Module{Name: "m", Handlers: []ply.Handler{{Kind: ply.KindRPC, Name: "h", Func: func(context.Context, *ply.Call) error { return nil }}}}))
	chains, err := h.Preview(t.Context())
	if err != nil || len(chains) != 1 {
		t.Fatalf("Preview() = %v, %v", chains, err)
	}
	if diff := cmp.Diff([]string{"provision p", "wrap p m/h", "cleanup p"}, rec.Lines()); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
	if got := chains[0].Explain().Steps; len(got) != 1 || got[0].Plugin.Name != "p" {
		t.Errorf("explain = %+v", got)
	}
	if err := h.Start(t.Context()); !errors.Is(err, ply.ErrStarted) {
		t.Errorf("Start after Preview = %v, want ErrStarted", err)
	}
}
