package admin_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/plykit/ply"
	"github.com/plykit/ply/admin"
	"github.com/plykit/ply/plytest"
)

// nopObserver measures every layer and keeps nothing: what a host with a
// metrics plugin measuring layers pays before the admin page adds its own.
type nopObserver struct{}

func (nopObserver) Info() ply.Info                   { return ply.Info{Name: "nop-observer", Version: "1.0.0"} }
func (nopObserver) PrepareLayer(ply.LayerSample) any { return struct{}{} }
func (nopObserver) ObserveLayer(ply.LayerSample)     {}

// BenchmarkChain calls a chain of 5 layers as a user calls it
// (Chain.Serve): without the admin page; measured by an observer that
// keeps nothing (the kernel's cost of measuring, which a metrics plugin
// already pays); with the admin page measuring every layer but not
// sampling (SampleEvery -1); and with it sampling one call in 100 for the
// inspector (the default). Compare the ns/op in one run.
func BenchmarkChain(b *testing.B) {
	for _, tt := range []struct {
		name  string
		every int // 0: no admin page; 1: the nop observer
	}{{"off", 0}, {"nop-observer", 1}, {"figures", -1}, {"sample-1in100", 100}} {
		b.Run(tt.name, func(b *testing.B) {
			var plugins []ply.Plugin
			for i := range 5 {
				plugins = append(plugins, ply.Func{Meta: ply.Info{Name: fmt.Sprint("layer", i), Version: "1.0.0"},
					OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
						return ply.Wrap{Layer: func(ctx context.Context, _ *ply.Call, next ply.Next) error { return next.Run(ctx) }}, nil
					}})
			}
			if tt.every == 1 {
				plugins = append(plugins, nopObserver{})
			}
			if tt.every != 0 && tt.every != 1 {
				page, err := admin.New(admin.Options{Addr: "127.0.0.1:0", SampleEvery: tt.every})
				if err != nil {
					b.Fatal(err)
				}
				plugins = append(plugins, page)
			}
			h := plytest.New(b, plugins, ply.WithLogger(slog.New(slog.DiscardHandler)), ply.WithModules(ply.Module{Name: "m", Handlers: []ply.Handler{
				{Kind: "rpc", Name: "h", Func: func(context.Context, *ply.Call) error { return nil }},
			}}))
			ch, err := h.Chain("m", "h")
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := ch.Serve(ctx, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
