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

// BenchmarkChain calls a chain of 5 layers as a user calls it
// (Chain.Serve): without the admin page; with it measuring every layer
// but not sampling (SampleEvery -1); and with it sampling one call in 100
// for the inspector (the default). Compare the ns/op in one run.
func BenchmarkChain(b *testing.B) {
	for _, tt := range []struct {
		name  string
		every int // 0: no admin page
	}{{"off", 0}, {"figures", -1}, {"sample-1in100", 100}} {
		b.Run(tt.name, func(b *testing.B) {
			var plugins []ply.Plugin
			for i := range 5 {
				plugins = append(plugins, ply.Func{Meta: ply.Info{Name: fmt.Sprint("layer", i), Version: "1.0.0"},
					OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
						return ply.Wrap{Layer: func(ctx context.Context, _ *ply.Call, next ply.Next) error { return next.Run(ctx) }}, nil
					}})
			}
			if tt.every != 0 {
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
