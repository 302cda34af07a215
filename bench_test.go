package ply_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/plykit/ply"
)

// scalePlugins returns n plugins with three edges each (after the first
// few): one dependency and two After constraints, each on a plugin of a
// random earlier rank, so the graphs stay acyclic and the order is not the
// registration order.
func scalePlugins(n int) []ply.Plugin {
	//nolint:gosec // seeded on purpose: reproducible graphs, not a secret
	r := rand.New(rand.NewPCG(uint64(n), 7))
	perm := r.Perm(n) // rank -> plugin index
	name := func(i int) string { return fmt.Sprintf("p%05d", i) }
	earlier := func(rank int) string { return name(perm[r.IntN(rank)]) }
	bands := []int{ply.System, ply.Security, ply.Logging, ply.Business, ply.Performance}
	noop := func(context.Context) error { return nil }
	out := make([]ply.Plugin, n)
	for rank, i := range perm {
		info := ply.Info{Name: name(i), Version: "1.0.0", Priority: bands[r.IntN(len(bands))]}
		if rank > 0 {
			info.Requires = []ply.Dependency{{Name: earlier(rank), Constraint: "^1"}}
			info.After = []string{earlier(rank), earlier(rank)}
		}
		out[i] = ply.Func{Meta: info, OnStart: noop, OnStop: noop}
	}
	return out
}

// BenchmarkLifecycle builds, orders, starts and stops n plugins with about
// three edges each. Growth from 1,000 to 10,000 must stay near-linear.
func BenchmarkLifecycle(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		ps := scalePlugins(n)
		b.Run(fmt.Sprintf("plugins=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h, err := ply.New(ps)
				if err != nil {
					b.Fatal(err)
				}
				if err := h.Start(context.Background()); err != nil {
					b.Fatal(err)
				}
				if err := h.Stop(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
