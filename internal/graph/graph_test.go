package graph

import (
	"container/heap"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// build returns a graph of len(prio) nodes with those priorities and edges.
func build(prio []int, edges [][2]int) *Graph {
	g := New(len(prio))
	for v, p := range prio {
		g.SetPriority(v, p)
	}
	for _, e := range edges {
		g.AddEdge(e[0], e[1])
	}
	return g
}

// reference is a naive Kahn's algorithm: at each step it scans every node for the
// ready one with the lowest (priority, index). It returns the nodes it could place.
func reference(prio []int, edges [][2]int) []int {
	n := len(prio)
	indeg := make([]int, n)
	for _, e := range edges {
		indeg[e[1]]++
	}
	placed := make([]bool, n)
	order := []int{}
	for {
		best := -1
		for v := range n {
			if !placed[v] && indeg[v] == 0 && (best < 0 || prio[v] < prio[best]) {
				best = v
			}
		}
		if best < 0 {
			return order
		}
		placed[best] = true
		order = append(order, best)
		for _, e := range edges {
			if e[0] == best {
				indeg[e[1]]--
			}
		}
	}
}

// wide holds priorities that exercise every byte of the ranks, and ranks beyond int32.
var wide = []int{
	math.MinInt, math.MinInt32 - 1, math.MinInt32, -1 << 24, -1 << 16, -300, -1,
	0, 1, 50, 300, 1 << 8, 1 << 16, 1 << 24, math.MaxInt32, math.MaxInt32 + 1, math.MaxInt,
}

// heapOrder is Kahn's algorithm with a container/heap ready queue: slower than
// reference, but fast enough to check large graphs. It returns the nodes it placed.
func heapOrder(prio []int, edges [][2]int) []int {
	n := len(prio)
	indeg := make([]int, n)
	succ := make([][]int, n)
	for _, e := range edges {
		indeg[e[1]]++
		succ[e[0]] = append(succ[e[0]], e[1])
	}
	q := &readyHeap{prio: prio}
	for v := range n {
		if indeg[v] == 0 {
			heap.Push(q, v)
		}
	}
	order := []int{}
	for q.Len() > 0 {
		v := heap.Pop(q).(int)
		order = append(order, v)
		for _, w := range succ[v] {
			if indeg[w]--; indeg[w] == 0 {
				heap.Push(q, w)
			}
		}
	}
	return order
}

type readyHeap struct {
	nodes []int
	prio  []int
}

func (h *readyHeap) Len() int { return len(h.nodes) }
func (h *readyHeap) Less(i, j int) bool {
	a, b := h.nodes[i], h.nodes[j]
	return h.prio[a] < h.prio[b] || h.prio[a] == h.prio[b] && a < b
}
func (h *readyHeap) Swap(i, j int) { h.nodes[i], h.nodes[j] = h.nodes[j], h.nodes[i] }
func (h *readyHeap) Push(x any)    { h.nodes = append(h.nodes, x.(int)) }
func (h *readyHeap) Pop() any {
	v := h.nodes[len(h.nodes)-1]
	h.nodes = h.nodes[:len(h.nodes)-1]
	return v
}

// randomDAG returns n nodes with priorities in [0, prios) and m edges that run from
// earlier to later nodes of a random permutation, so that the edges do not follow
// the registration order.
func randomDAG(r *rand.Rand, n, m, prios int) (prio []int, edges [][2]int) {
	prio = make([]int, n)
	for v := range prio {
		prio[v] = r.IntN(prios)
	}
	if n < 2 {
		return prio, nil
	}
	perm := r.Perm(n)
	edges = make([][2]int, m)
	for k := range edges {
		i, j := r.IntN(n), r.IntN(n-1)
		if j >= i {
			j++
		}
		if i > j {
			i, j = j, i
		}
		edges[k] = [2]int{perm[i], perm[j]}
	}
	return prio, edges
}

func TestSort(t *testing.T) {
	for _, tt := range []struct {
		name  string
		prio  []int
		edges [][2]int
		want  []int
	}{
		{name: "empty", prio: []int{}, want: []int{}},
		{name: "one", prio: []int{7}, want: []int{0}},
		{name: "ties keep registration order", prio: []int{0, 0, 0, 0}, want: []int{0, 1, 2, 3}},
		{
			name: "priority bands",
			prio: []int{300, 50, 1000, 100, 200, 400, 300},
			want: []int{1, 3, 4, 0, 6, 5, 2},
		},
		{name: "negative priorities", prio: []int{-5, 0, -10}, want: []int{2, 0, 1}},
		{
			name: "int32 extremes",
			prio: []int{math.MaxInt32, math.MinInt32, 0, -1, 1 << 24, 1 << 16, 1 << 8},
			want: []int{1, 3, 2, 6, 5, 4, 0},
		},
		{
			name: "int64 extremes",
			prio: []int{math.MaxInt, math.MinInt, math.MaxInt32 + 1, 0, math.MinInt32 - 1, math.MaxInt},
			want: []int{1, 4, 3, 2, 0, 5},
		},
		{name: "edge overrides priority", prio: []int{0, 10}, edges: [][2]int{{1, 0}}, want: []int{1, 0}},
		{
			// A(50) must come after B(400), plus an independent C(100): C, B, A.
			name:  "design example",
			prio:  []int{50, 400, 100},
			edges: [][2]int{{1, 0}},
			want:  []int{2, 1, 0},
		},
		{
			// 0 After 2 is the edge 2 -> 0; 1 Before 2 is the edge 1 -> 2.
			name:  "before and after as edges",
			prio:  []int{0, 0, 0},
			edges: [][2]int{{2, 0}, {1, 2}},
			want:  []int{1, 2, 0},
		},
		{
			name:  "duplicate edges",
			prio:  []int{5, 0, 0},
			edges: [][2]int{{0, 1}, {0, 1}},
			want:  []int{2, 0, 1},
		},
		{
			name:  "diamond",
			prio:  []int{0, 5, 1, 0},
			edges: [][2]int{{0, 1}, {0, 2}, {1, 3}, {2, 3}},
			want:  []int{0, 2, 1, 3},
		},
		{
			// 2 becomes ready after 0 and overtakes 1, which was waiting.
			name:  "newly ready overtakes waiting",
			prio:  []int{10, 20, 0},
			edges: [][2]int{{0, 2}},
			want:  []int{0, 2, 1},
		},
		{
			name:  "chain against registration order",
			prio:  []int{0, 0, 0, 0},
			edges: [][2]int{{3, 2}, {2, 1}, {1, 0}},
			want:  []int{3, 2, 1, 0},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o, err := build(tt.prio, tt.edges).Sort()
			if err != nil {
				t.Fatalf("Sort() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, o.Nodes()); diff != "" {
				t.Errorf("Sort() nodes mismatch (-want +got):\n%s", diff)
			}
			for i, v := range o.Nodes() {
				if got := o.Position(v); got != i {
					t.Errorf("Position(%d) = %d, want %d", v, got, i)
				}
			}
		})
	}
}

// TestSortShuffled registers the same logical graph in every order. With distinct
// priorities, the registration order must not matter.
func TestSortShuffled(t *testing.T) {
	prio := map[string]int{"auth": 100, "log": 200, "metrics": 201, "cache": 400, "reqid": 50}
	edges := [][2]string{{"cache", "log"}, {"auth", "reqid"}} // cache before log, auth before reqid
	want := []string{"auth", "reqid", "metrics", "cache", "log"}

	names := []string{"auth", "cache", "log", "metrics", "reqid"}
	for perm := range permutations(names) {
		index := make(map[string]int)
		g := New(len(perm))
		for i, name := range perm {
			index[name] = i
			g.SetPriority(i, prio[name])
		}
		for _, e := range edges {
			g.AddEdge(index[e[0]], index[e[1]])
		}
		o, err := g.Sort()
		if err != nil {
			t.Fatalf("registered as %v: Sort() error = %v", perm, err)
		}
		var got []string
		for _, v := range o.Nodes() {
			got = append(got, perm[v])
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("registered as %v: order mismatch (-want +got):\n%s", perm, diff)
		}
	}
}

// permutations yields every ordering of s, each in a fresh slice.
func permutations(s []string) func(yield func([]string) bool) {
	return func(yield func([]string) bool) {
		var rec func(k int) bool
		p := slices.Clone(s)
		rec = func(k int) bool {
			if k == len(p) {
				return yield(slices.Clone(p))
			}
			for i := k; i < len(p); i++ {
				p[k], p[i] = p[i], p[k]
				if !rec(k + 1) {
					return false
				}
				p[k], p[i] = p[i], p[k]
			}
			return true
		}
		rec(0)
	}
}

// TestSortMatchesReference compares Sort with the naive algorithm on random DAGs,
// with few distinct priorities (many ties) and with priorities from all of int.
func TestSortMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // seeded, reproducible test inputs, not secrets
	for i := range 1000 {
		n := r.IntN(40)
		prio, edges := randomDAG(r, n, r.IntN(3*n+1), 1+r.IntN(4))
		if i%2 == 1 {
			for v := range prio {
				prio[v] = wide[r.IntN(len(wide))]
			}
		}
		o, err := build(prio, edges).Sort()
		if err != nil {
			t.Fatalf("graph %d: Sort() error = %v", i, err)
		}
		if diff := cmp.Diff(reference(prio, edges), o.Nodes()); diff != "" {
			t.Fatalf("graph %d (prio %v, edges %v): order mismatch (-want +got):\n%s", i, prio, edges, diff)
		}
	}
}

// TestSortLarge compares Sort with a heap-based Kahn's algorithm on graphs large
// enough for the ready queue to have 2 and 3 levels.
func TestSortLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8)) //nolint:gosec // seeded, reproducible test inputs, not secrets
	for _, n := range []int{5000, 70000} {
		for _, prios := range []int{1, 6, 1000} {
			prio, edges := randomDAG(r, n, 3*n, prios)
			o, err := build(prio, edges).Sort()
			if err != nil {
				t.Fatalf("n=%d: Sort() error = %v", n, err)
			}
			if diff := cmp.Diff(heapOrder(prio, edges), o.Nodes()); diff != "" {
				t.Errorf("n=%d, %d priorities: order mismatch (-want +got):\n%s", n, prios, diff)
			}
		}
	}
}

// TestSortAgain checks that an Order does not change when its Graph does.
func TestSortAgain(t *testing.T) {
	g := build([]int{0, 0, 0}, nil)
	first, err := g.Sort()
	if err != nil {
		t.Fatal(err)
	}
	g.SetPriority(0, 9)
	g.AddEdge(2, 1)
	second, err := g.Sort()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{0, 1, 2}, first.Nodes()); diff != "" {
		t.Errorf("first order mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{2, 1, 0}, second.Nodes()); diff != "" {
		t.Errorf("second order mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Step{{From: 0, To: 1, Kind: Registration}}, first.Why(0, 1)); diff != "" {
		t.Errorf("first.Why(0, 1) mismatch (-want +got):\n%s", diff)
	}
}

func TestSortCycle(t *testing.T) {
	for _, tt := range []struct {
		name  string
		n     int
		edges [][2]int
		want  []int
	}{
		{name: "two", n: 2, edges: [][2]int{{0, 1}, {1, 0}}, want: []int{0, 1, 0}},
		{name: "three", n: 3, edges: [][2]int{{0, 2}, {2, 1}, {1, 0}}, want: []int{0, 2, 1, 0}},
		{name: "self-edge", n: 5, edges: [][2]int{{0, 1}, {3, 3}}, want: []int{3, 3}},
		{
			name:  "cycle and independent nodes",
			n:     6,
			edges: [][2]int{{0, 1}, {4, 2}, {2, 5}, {5, 4}},
			want:  []int{2, 5, 4, 2},
		},
		{
			name:  "two disjoint cycles",
			n:     7,
			edges: [][2]int{{3, 5}, {5, 3}, {4, 2}, {2, 1}, {1, 4}},
			want:  []int{1, 4, 2, 1},
		},
		{
			// 0 is unsortable but not on the cycle: the walk starts there.
			name:  "node after a cycle",
			n:     4,
			edges: [][2]int{{2, 3}, {3, 2}, {3, 0}},
			want:  []int{2, 3, 2},
		},
		{
			// 0's predecessors are 2 and 1: the walk takes 1.
			name:  "lowest predecessor",
			n:     3,
			edges: [][2]int{{0, 1}, {1, 2}, {2, 0}, {1, 0}},
			want:  []int{0, 1, 0},
		},
		{
			name:  "duplicate edges in a cycle",
			n:     2,
			edges: [][2]int{{1, 0}, {0, 1}, {1, 0}},
			want:  []int{0, 1, 0},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o, err := build(make([]int, tt.n), tt.edges).Sort()
			if o != nil {
				t.Errorf("Sort() order = %v, want nil", o.Nodes())
			}
			ce, ok := errors.AsType[*CycleError](err)
			if !ok {
				t.Fatalf("Sort() error = %v, want *CycleError", err)
			}
			if diff := cmp.Diff(tt.want, ce.Path); diff != "" {
				t.Errorf("Sort() cycle mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCycleErrorError(t *testing.T) {
	for _, tt := range []struct {
		path []int
		want string
	}{
		{path: []int{2, 5, 2}, want: "cycle: 2 -> 5 -> 2"},
		{path: []int{3, 3}, want: "cycle: 3 -> 3"},
	} {
		if got := (&CycleError{Path: tt.path}).Error(); got != tt.want {
			t.Errorf("CycleError{%v}.Error() = %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestPanics(t *testing.T) {
	for _, tt := range []struct {
		name string
		f    func()
	}{
		{name: "New negative", f: func() { New(-1) }},
		{name: "SetPriority out of range", f: func() { New(2).SetPriority(2, 0) }},
		{name: "AddEdge from out of range", f: func() { New(2).AddEdge(-1, 0) }},
		{name: "AddEdge to out of range", f: func() { New(2).AddEdge(0, 2) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", tt.name)
				}
			}()
			tt.f()
		})
	}
}

// BenchmarkSort builds and sorts a random DAG with 3 edges per node, whose edges do
// not follow the registration order, and priorities from the bands. ply's budget:
// nodes=10000 takes at most 12 times as long as nodes=1000.
func BenchmarkSort(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(uint64(n), 0)) //nolint:gosec // seeded, reproducible test inputs, not secrets
			bands := []int{50, 100, 200, 300, 400, 1000}
			prio, edges := randomDAG(r, n, 3*n, len(bands))
			for v := range prio {
				prio[v] = bands[prio[v]]
			}
			b.ReportAllocs()
			for b.Loop() {
				g := New(n)
				for v, p := range prio {
					g.SetPriority(v, p)
				}
				for _, e := range edges {
					g.AddEdge(e[0], e[1])
				}
				if _, err := g.Sort(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
