package graph

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func BenchmarkPhase(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		r := rand.New(rand.NewPCG(uint64(n), 0))
		bands := []int{50, 100, 200, 300, 400, 1000}
		prio, edges := randomDAG(r, n, 3*n, len(bands))
		for v := range prio {
			prio[v] = bands[prio[v]]
		}
		b.Run(fmt.Sprintf("build/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				g := New(n)
				for v, p := range prio {
					g.SetPriority(v, p)
				}
				for _, e := range edges {
					g.AddEdge(e[0], e[1])
				}
			}
		})
		g := build(prio, edges)
		b.Run(fmt.Sprintf("sort/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				g.Sort()
			}
		})
	}
}
