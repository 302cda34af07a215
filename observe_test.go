package ply_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/plykit/ply"
)

// meter is a LayerObserver plugin that keeps every sample, without its
// Call (valid only during ObserveLayer), and counts the samples that named
// none.
type meter struct {
	mu      sync.Mutex
	samples []ply.LayerSample
	noCall  int
}

func (m *meter) Info() ply.Info {
	return ply.Info{Name: "meter", Version: "1.0.0", Priority: ply.Logging}
}

func (m *meter) PrepareLayer(s ply.LayerSample) any { return s.Plugin + " on " + s.Handler }

func (m *meter) ObserveLayer(s ply.LayerSample) {
	m.mu.Lock()
	if s.Call == nil {
		m.noCall++
	}
	s.Call = nil
	m.samples = append(m.samples, s)
	m.mu.Unlock()
}

func TestLayerObserver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &meter{}
		outer := func(ctx context.Context, _ *ply.Call, next ply.Next) error {
			time.Sleep(3 * time.Millisecond) // self
			return next.Run(ctx)
		}
		guard := func(ctx context.Context, c *ply.Call, next ply.Next) error {
			time.Sleep(10 * time.Millisecond)
			if c.Request() == "deny" {
				return errBoom // short-circuit
			}
			return next.Run(ctx)
		}
		handler := func(context.Context, *ply.Call) error { time.Sleep(50 * time.Millisecond); return nil }
		ch := mount(t, []ply.Plugin{m, layerPlugin("outer", 100, outer, nil), layerPlugin("guard", 200, guard, nil)}, handler, ply.WithLogger(discard))
		for _, req := range []string{"allow", "deny"} {
			_, _ = ch.Serve(t.Context(), req, nil)
		}
		want := []ply.LayerSample{
			{Plugin: "guard", Version: "1.0.0", Module: "m", Handler: "h", Kind: ply.KindRPC, Self: 10 * time.Millisecond, Took: 60 * time.Millisecond, Prepared: "guard on h"},
			{Plugin: "outer", Version: "1.0.0", Module: "m", Handler: "h", Kind: ply.KindRPC, Self: 3 * time.Millisecond, Took: 63 * time.Millisecond, Prepared: "outer on h"},
			{Plugin: "guard", Version: "1.0.0", Module: "m", Handler: "h", Kind: ply.KindRPC, Self: 10 * time.Millisecond, Took: 10 * time.Millisecond, Err: errBoom, ShortCircuit: true, Prepared: "guard on h"},
			{Plugin: "outer", Version: "1.0.0", Module: "m", Handler: "h", Kind: ply.KindRPC, Self: 3 * time.Millisecond, Took: 13 * time.Millisecond, Err: errBoom, Prepared: "outer on h"},
		}
		if diff := cmp.Diff(want, m.samples, cmpopts.EquateErrors()); diff != "" {
			t.Errorf("samples (-want +got):\n%s", diff)
		}
		if m.noCall != 0 {
			t.Errorf("%d samples named no call", m.noCall)
		}
	})
}

// After-hooks are measured after the layers, in the order they ran, each
// sample marked After with the hook's time and what it returned; a hook
// that panics is reported with ErrUnwound, and the hooks after it still
// run and are measured.
func TestLayerObserverMeasuresAfterHooks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &meter{}
		pass := func(ctx context.Context, _ *ply.Call, next ply.Next) error { return next.Run(ctx) }
		audit := func(_ context.Context, c *ply.Call, err error, _ bool) error {
			time.Sleep(2 * time.Millisecond)
			if c.Request() == "panic" {
				panic("audit broke")
			}
			return err
		}
		wrapErr := func(_ context.Context, _ *ply.Call, err error, _ bool) error {
			time.Sleep(5 * time.Millisecond)
			if err != nil {
				return errBoom
			}
			return nil
		}
		handler := func(context.Context, *ply.Call) error { return nil }
		ch := mount(t, []ply.Plugin{m, layerPlugin("outer", 100, pass, audit), layerPlugin("hookonly", 200, nil, wrapErr)}, handler, ply.WithLogger(discard))
		for _, req := range []string{"ok", "panic"} {
			_, _ = ch.Serve(t.Context(), req, nil)
		}
		hook := func(plugin string, took time.Duration, err error) ply.LayerSample {
			return ply.LayerSample{Plugin: plugin, Version: "1.0.0", Module: "m", Handler: "h", Kind: ply.KindRPC, After: true,
				Self: took, Took: took, Err: err, Prepared: plugin + " on h"}
		}
		outer := ply.LayerSample{Plugin: "outer", Version: "1.0.0", Module: "m", Handler: "h", Kind: ply.KindRPC, Prepared: "outer on h"}
		want := []ply.LayerSample{
			outer, hook("outer", 2*time.Millisecond, nil), hook("hookonly", 5*time.Millisecond, nil),
			outer, hook("outer", 2*time.Millisecond, ply.ErrUnwound), hook("hookonly", 5*time.Millisecond, errBoom),
		}
		if diff := cmp.Diff(want, m.samples, cmpopts.EquateErrors()); diff != "" {
			t.Errorf("samples (-want +got):\n%s", diff)
		}
		if m.noCall != 0 {
			t.Errorf("%d samples named no call", m.noCall)
		}
	})
}
