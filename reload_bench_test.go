package ply_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/plykit/ply"
)

// BenchmarkGenerationCallPath compares a call through Chain.Serve, which
// loads the current generation and counts the call on its stripes
// (impl=generation), with the same compiled chain served directly, as
// Chain.Serve did before generations (impl=snapshot). Both variants call
// the same chain of the same host, so the ratio is the generation
// accounting alone. The layers are BenchmarkChain's.
func BenchmarkGenerationCallPath(b *testing.B) {
	for _, depth := range []int{1, 5, 10} {
		ch := mount(b, plyLayers(depth), benchHandler, ply.WithLogger(discard))
		for _, v := range callPaths {
			b.Run(fmt.Sprintf("impl=%s/depth=%d", v.impl, depth), func(b *testing.B) {
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					if _, err := v.serve(ctx, ch); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkGenerationCallPathParallel is BenchmarkGenerationCallPath with
// GOMAXPROCS goroutines calling the chain at once (run it with -cpu=2 for
// two): calls on different processors count on different stripes, so the
// accounting should cost no more in parallel than alone.
func BenchmarkGenerationCallPathParallel(b *testing.B) {
	for _, depth := range []int{1, 5, 10} {
		ch := mount(b, plyLayers(depth), benchHandler, ply.WithLogger(discard))
		for _, v := range callPaths {
			b.Run(fmt.Sprintf("impl=%s/depth=%d", v.impl, depth), func(b *testing.B) {
				ctx := context.Background()
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := v.serve(ctx, ch); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

var callPaths = []struct {
	impl  string
	serve func(context.Context, *ply.Chain) (any, error)
}{
	{"generation", func(ctx context.Context, ch *ply.Chain) (any, error) { return ch.Serve(ctx, nil, nil) }},
	{"snapshot", func(ctx context.Context, ch *ply.Chain) (any, error) { return ply.ServeSnapshot(ctx, ch, nil, nil) }},
}

// wrapperPlugin is a plugin whose Wrap gives every handler of kinds (all
// when none) a trivial layer, with do-nothing Provision, Start and Stop
// hooks. Each call returns a new object, which a reload replaces the
// previous one with; an object given again carries over.
func wrapperPlugin(name string, lazy bool, kinds ...ply.Kind) ply.Plugin {
	layer := func(ctx context.Context, _ *ply.Call, next ply.Next) error { return next.Run(ctx) }
	noop := func(context.Context) error { return nil }
	return &ply.Func{
		Meta:        ply.Info{Name: name, Version: "1.0.0", Lazy: lazy, Kinds: kinds},
		OnProvision: func(context.Context, *ply.Setup) error { return nil },
		OnStart:     noop,
		OnStop:      noop,
		OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
			return ply.Wrap{Layer: layer}, nil
		},
	}
}

// wrapperPlugins returns n wrapperPlugins named prefix000 on.
func wrapperPlugins(prefix string, n int, lazy bool) []ply.Plugin {
	ps := make([]ply.Plugin, n)
	for i := range ps {
		ps[i] = wrapperPlugin(fmt.Sprintf("%s%03d", prefix, i), lazy)
	}
	return ps
}

// module returns one module of n handlers, the first rpc of them of kind
// rpc and the others jobs.
func module(n, rpc int) ply.Module {
	m := ply.Module{Name: "m"}
	for i := range n {
		kind := ply.KindJob
		if i < rpc {
			kind = ply.KindRPC
		}
		m.Handlers = append(m.Handlers, ply.Handler{Kind: kind, Name: fmt.Sprintf("h%04d", i), Func: benchHandler})
	}
	return m
}

// startWith starts a host of plugins and handlers, rpc of which are of
// kind rpc; it stops at cleanup.
func startWith(tb testing.TB, ps []ply.Plugin, handlers, rpc int) *ply.Host {
	tb.Helper()
	h, err := ply.New(ps, ply.WithLogger(discard))
	if err != nil {
		tb.Fatal(err)
	}
	if err := h.Mount(module(handlers, rpc)); err != nil {
		tb.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = h.Stop(context.Background()) })
	return h
}

// BenchmarkReload reloads a host of 100 plugins that wrap its handlers
// with a trivial layer, replacing changed plugins per reload
// (impl=reload): the unchanged plugins wrap every handler, the changed
// ones the rpc handlers only, whose chains a reload recompiles (chains=);
// the other handlers are jobs. A reload runs the new instances' Wrap for
// each of those chains, recompiles them and stops the old instances; the
// unchanged instances carry over. impl=restart starts and stops the same
// host from scratch: what a change costs without reloads.
func BenchmarkReload(b *testing.B) {
	const plugins = 100
	for _, size := range []struct{ handlers, chains int }{{100, 100}, {1000, 100}, {1000, 1000}} {
		for _, changed := range []int{1, 10} {
			name := fmt.Sprintf("impl=reload/plugins=%d/handlers=%d/chains=%d/changed=%d", plugins, size.handlers, size.chains, changed)
			b.Run(name, func(b *testing.B) {
				slots := make([]int, changed) // spread over the chains' depth
				for k := range slots {
					slots[k] = k * plugins / changed
				}
				renew := func(ps []ply.Plugin) {
					for _, i := range slots {
						ps[i] = wrapperPlugin(fmt.Sprintf("w%03d", i), false, ply.KindRPC)
					}
				}
				cur := wrapperPlugins("w", plugins, false)
				renew(cur)
				h := startWith(b, cur, size.handlers, size.chains)
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					next := slices.Clone(cur)
					renew(next)
					rl, err := h.Reload(ctx, ply.Change{Plugins: next})
					if err != nil {
						b.Fatal(err)
					}
					if len(rl.Replaced) != changed || rl.Chains != size.chains {
						b.Fatalf("reload: %v; want %d replaced and %d chains", rl, changed, size.chains)
					}
					cur = next
				}
			})
		}
	}
	for _, handlers := range []int{100, 1000} {
		b.Run(fmt.Sprintf("impl=restart/plugins=%d/handlers=%d", plugins, handlers), func(b *testing.B) {
			ps := wrapperPlugins("w", plugins, false)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				h, err := ply.New(ps, ply.WithLogger(discard))
				if err != nil {
					b.Fatal(err)
				}
				if err := h.Mount(module(handlers, handlers)); err != nil {
					b.Fatal(err)
				}
				if err := h.Start(ctx); err != nil {
					b.Fatal(err)
				}
				if err := h.Stop(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStartLazy starts a host (New, Mount, Start; Stop is not
// timed) without lazy plugins (impl=without), with 200 lazy plugins more,
// each wrapping every handler (impl=lazy), and with the same 200 plugins
// loaded eagerly (impl=eager), for two sizes of the host around them.
func BenchmarkStartLazy(b *testing.B) {
	const extra = 200
	for _, size := range []struct{ plugins, handlers int }{{10, 10}, {100, 100}} {
		base := wrapperPlugins("w", size.plugins, false)
		for _, v := range []struct {
			impl string
			ps   []ply.Plugin
		}{
			{"without", base},
			{"lazy", append(slices.Clone(base), wrapperPlugins("z", extra, true)...)},
			{"eager", append(slices.Clone(base), wrapperPlugins("z", extra, false)...)},
		} {
			b.Run(fmt.Sprintf("impl=%s/plugins=%d/handlers=%d", v.impl, size.plugins, size.handlers), func(b *testing.B) {
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					h, err := ply.New(v.ps, ply.WithLogger(discard))
					if err != nil {
						b.Fatal(err)
					}
					if err := h.Mount(module(size.handlers, size.handlers)); err != nil {
						b.Fatal(err)
					}
					if err := h.Start(ctx); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					if err := h.Stop(ctx); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
			})
		}
	}
}
