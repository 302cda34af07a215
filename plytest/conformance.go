package plytest

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/plykit/ply"
)

// Conformance says how [Run] exercises a plugin.
type Conformance struct {
	// Kind is the handler kind to wrap. Default: the plugin's first
	// [ply.Info.Kinds], else [ply.KindRPC].
	Kind ply.Kind
	// NewCall returns the request and initial response of one call. Default:
	// nil, nil.
	NewCall func() (req, res any)
	// With are plugins the one under test needs (its dependencies).
	With []ply.Plugin
	// Options are extra host options.
	Options []ply.Option
	// Calls is how many concurrent calls to make. Default: 8 goroutines × 50.
	Calls int
}

// Run checks that p behaves as every ply plugin must:
//
//   - lifecycle: it starts and stops cleanly, twice, in two hosts, and Stop
//     is idempotent;
//   - concurrency: concurrent calls through its layer raise no panic and no
//     misuse of next (run the test with -race);
//   - re-entrant next: its layer works when an outer layer runs the inner
//     chain twice, as a retry does;
//   - leaks: no goroutine it started outlives its host's Stop.
func Run(t *testing.T, p ply.Plugin, cfg Conformance) {
	t.Helper()
	if cfg.Kind == "" {
		cfg.Kind = ply.KindRPC
		if k := p.Info().Kinds; len(k) > 0 {
			cfg.Kind = k[0]
		}
	}
	if cfg.NewCall == nil {
		cfg.NewCall = func() (any, any) { return nil, nil }
	}
	if cfg.Calls <= 0 {
		cfg.Calls = 400
	}
	before := goleak.IgnoreCurrent()

	retries := ply.Func{
		Meta: ply.Info{Name: "plytest.retry", Version: "1.0.0", Priority: math.MinInt},
		OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
			return ply.Wrap{Layer: func(ctx context.Context, _ *ply.Call, next ply.Next) error {
				_ = next.Run(ctx) // the first attempt's outcome is the plugin's business
				return next.Run(ctx)
			}}, nil
		},
	}
	handler := func(context.Context, *ply.Call) error { return nil }
	for round := range 2 {
		plugins := append([]ply.Plugin{p, retries}, cfg.With...)
		opts := append([]ply.Option{ply.WithModules(ply.Module{Name: "plytest", Handlers: []ply.Handler{
			{Kind: cfg.Kind, Name: "conformance", Func: handler},
		}})}, cfg.Options...)
		h, err := ply.New(plugins, opts...)
		if err != nil {
			t.Fatalf("round %d: ply.New: %v", round, err)
		}
		if err := h.Start(t.Context()); err != nil {
			t.Fatalf("round %d: start: %v", round, err)
		}
		ch, err := h.Chain("plytest", "conformance")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		per := max(cfg.Calls/8, 1)
		for range 8 {
			wg.Go(func() {
				for range per {
					req, res := cfg.NewCall()
					_, err := ch.Serve(t.Context(), req, res)
					if _, panicked := errors.AsType[*ply.PanicError](err); panicked || errors.Is(err, ply.ErrNextMisused) {
						t.Errorf("round %d: call: %v", round, err)
						return
					}
				}
			})
		}
		wg.Wait()
		if err := h.Stop(context.WithoutCancel(t.Context())); err != nil {
			t.Errorf("round %d: stop: %v", round, err)
		}
		if err := h.Stop(context.WithoutCancel(t.Context())); err != nil {
			t.Errorf("round %d: second stop: %v", round, err)
		}
	}
	if err := goleak.Find(before); err != nil {
		t.Errorf("goroutines outlived Stop: %v", err)
	}
}
