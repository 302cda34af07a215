package plytest_test

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/plykit/ply"
	"github.com/plykit/ply/plytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// counter is a well-behaved plugin: a background loop owned by Start/Stop
// and a layer that counts calls in the request bag.
type counter struct {
	done chan struct{}
	stop context.CancelFunc
}

var seen = ply.NewKey[int]("counter.seen")

func (c *counter) Info() ply.Info { return ply.Info{Name: "counter", Version: "1.0.0"} }

func (c *counter) Start(ctx context.Context) error {
	ctx, c.stop = context.WithCancel(context.WithoutCancel(ctx))
	c.done = make(chan struct{})
	go func() { defer close(c.done); <-ctx.Done() }()
	return nil
}

func (c *counter) Stop(context.Context) error { c.stop(); <-c.done; return nil }

func (c *counter) Wrap(context.Context, ply.Target) (ply.Wrap, error) {
	return ply.Wrap{Layer: func(ctx context.Context, call *ply.Call, next ply.Next) error {
		n, _ := ply.Get(call, seen)
		ply.Set(call, seen, n+1)
		return next.Run(ctx)
	}}, nil
}

func TestConformance(t *testing.T) {
	plytest.Run(t, &counter{}, plytest.Conformance{})
}

func TestRecorderTrace(t *testing.T) {
	rec := plytest.NewRecorder()
	h := plytest.New(t, []ply.Plugin{ply.Func{Meta: ply.Info{Name: "a", Version: "1.0.0"},
		OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
			return ply.Wrap{Layer: rec.Layer("a"), After: rec.After("a")}, nil
		}}},
		ply.WithObserver(rec.Observe),
		ply.WithModules(ply.Module{Name: "m", Handlers: []ply.Handler{{Kind: ply.KindRPC, Name: "h", Func: rec.Handler("h")}}}))
	ch, _ := h.Chain("m", "h")
	if _, err := ch.Serve(t.Context(), nil, nil); err != nil {
		t.Fatal(err)
	}
	want := []string{"wrap a m/h", "a before", "handler h", "a after", "a hook ran=true err=<nil>"}
	got := rec.Lines()
	if len(got) != len(want) {
		t.Fatalf("trace = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %q, want %q", i, got[i], want[i])
		}
	}
}
