package graph

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzSort builds a graph from bytes: the first is the node count (mod 24), the next
// ones the priorities (small ones, to make ties, or from all of int), the rest pairs
// of edges. It checks the
// order against the naive algorithm, every Why chain, and every reported cycle.
func FuzzSort(f *testing.F) {
	f.Add([]byte{3, 1, 0, 2, 1, 0})
	f.Add([]byte{2, 0, 0, 0, 1, 1, 0})
	f.Add([]byte{5, 0, 0, 0, 0, 0, 3, 3})
	f.Add([]byte{6, 3, 2, 1, 0, 1, 2, 0, 1, 4, 2, 2, 5, 5, 4})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		n := int(data[0]) % 24
		data = data[1:]
		prio := make([]int, n)
		for v := range prio {
			if len(data) > 0 {
				if b := data[0]; b < 128 {
					prio[v] = int(b) % 4 // ties
				} else {
					prio[v] = wide[int(b)%len(wide)]
				}
				data = data[1:]
			}
		}
		var edges [][2]int
		for n > 0 && len(data) >= 2 {
			edges = append(edges, [2]int{int(data[0]) % n, int(data[1]) % n})
			data = data[2:]
		}

		placed := reference(prio, edges)
		o, err := build(prio, edges).Sort()
		if err == nil {
			if len(placed) != n {
				t.Fatalf("Sort() placed all %d nodes, the reference only %v", n, placed)
			}
			if diff := cmp.Diff(placed, o.Nodes()); diff != "" {
				t.Fatalf("order mismatch (-want +got):\n%s", diff)
			}
			for _, e := range edges {
				if o.Position(e[0]) >= o.Position(e[1]) {
					t.Fatalf("edge %d -> %d not respected in %v", e[0], e[1], o.Nodes())
				}
			}
			for a := range n {
				for b := range n {
					if msg := checkWhy(o, prio, edges, a, b); msg != "" {
						t.Fatalf("Why(%d, %d) = %v: %s", a, b, o.Why(a, b), msg)
					}
				}
			}
			return
		}

		ce, ok := errors.AsType[*CycleError](err)
		if !ok {
			t.Fatalf("Sort() error = %v, want *CycleError", err)
		}
		if o != nil {
			t.Fatalf("Sort() returned an order with an error")
		}
		p := ce.Path
		if len(p) < 2 || p[0] != p[len(p)-1] {
			t.Fatalf("path %v is not closed", p)
		}
		cyc := p[:len(p)-1]
		if slices.Min(cyc) != p[0] {
			t.Fatalf("path %v does not start at its lowest node", p)
		}
		if len(slices.Compact(slices.Sorted(slices.Values(cyc)))) != len(cyc) {
			t.Fatalf("path %v repeats a node", p)
		}
		for i := range len(p) - 1 {
			if !hasEdge(edges, p[i], p[i+1]) {
				t.Fatalf("path %v: no edge %d -> %d", p, p[i], p[i+1])
			}
		}
		for _, v := range cyc {
			if slices.Contains(placed, v) {
				t.Fatalf("path %v: node %d is sortable", p, v)
			}
		}
	})
}
