package ply_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/plykit/ply"
)

// nopObserver measures every layer and keeps nothing: the kernel's cost of
// a measured chain, as a metrics plugin or the admin page pays it.
type nopObserver struct{}

func (nopObserver) Info() ply.Info                   { return ply.Info{Name: "nop-observer", Version: "1.0.0"} }
func (nopObserver) PrepareLayer(ply.LayerSample) any { return struct{}{} }
func (nopObserver) ObserveLayer(ply.LayerSample)     {}

// BenchmarkChainMeasured calls a chain of 5 pass-through layers as a user
// calls it, unmeasured and measured by an observer that does nothing.
func BenchmarkChainMeasured(b *testing.B) {
	for _, measured := range []bool{false, true} {
		b.Run(fmt.Sprintf("measured=%v", measured), func(b *testing.B) {
			var plugins []ply.Plugin
			for i := range 5 {
				plugins = append(plugins, ply.Func{Meta: ply.Info{Name: fmt.Sprint("layer", i), Version: "1.0.0"},
					OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
						return ply.Wrap{Layer: func(ctx context.Context, _ *ply.Call, next ply.Next) error { return next.Run(ctx) }}, nil
					}})
			}
			if measured {
				plugins = append(plugins, nopObserver{})
			}
			h, err := ply.New(plugins, ply.WithLogger(discard), ply.WithModules(ply.Module{Name: "m", Handlers: []ply.Handler{
				{Kind: ply.KindRPC, Name: "h", Func: func(context.Context, *ply.Call) error { return nil }},
			}}))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			if err := h.Start(ctx); err != nil {
				b.Fatal(err)
			}
			defer func() { _ = h.Stop(ctx) }()
			ch, err := h.Chain("m", "h")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ch.Serve(ctx, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
