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
