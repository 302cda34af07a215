package graph

import (
	"fmt"
	"math"
	"slices"
)

// Graph is a set of nodes with priorities and "must precede" edges. Nodes are the ints
// 0..Len()-1, and a node's index is its registration index.
//
// A Graph is not safe for concurrent mutation. It may be sorted again after more
// changes; an [Order] it returned does not change.
type Graph struct {
	prio []int
	// edges in the order added, in blocks that double in size: adding never copies.
	edges [][]edge
	m     int // number of edges
}

type edge struct{ from, to int32 }

// New returns a graph of n nodes, all with priority 0 and no edges.
// It panics if n is negative or greater than [math.MaxInt32].
func New(n int) *Graph {
	if n < 0 || n > math.MaxInt32 {
		panic(fmt.Sprintf("graph: New(%d): node count out of range", n))
	}
	return &Graph{prio: make([]int, n)}
}

// Len returns the number of nodes.
func (g *Graph) Len() int { return len(g.prio) }

// SetPriority sets the priority of node. Any int is valid; among nodes that are ready
// at the same time, the lower priority goes first. It panics if node is out of range.
func (g *Graph) SetPriority(node, priority int) {
	g.check(node)
	g.prio[node] = priority
}

// AddEdge declares that from must come before to. Adding the same edge twice is
// allowed and changes nothing. A self-edge (from == to) is a cycle of length 1.
// It panics if either node is out of range.
func (g *Graph) AddEdge(from, to int) {
	g.check(from)
	g.check(to)
	if g.m == math.MaxInt32 {
		panic("graph: AddEdge: too many edges")
	}
	last := len(g.edges) - 1
	if last < 0 || len(g.edges[last]) == cap(g.edges[last]) {
		size := 64
		if last >= 0 {
			size = 2 * cap(g.edges[last])
		}
		g.edges = append(g.edges, make([]edge, 0, size))
		last++
	}
	g.edges[last] = append(g.edges[last], edge{int32(from), int32(to)})
	g.m++
}

func (g *Graph) check(node int) {
	if uint(node) >= uint(len(g.prio)) {
		panic(fmt.Sprintf("graph: node %d out of range [0,%d)", node, len(g.prio)))
	}
}

// Sort orders the nodes with Kahn's algorithm. The ready queue is ordered by
// (priority, index): each step places the ready node with the lowest priority, and
// among equal priorities the lowest index. Edges always hold; priority and index only
// break ties between ready nodes.
//
// If the edges contain a cycle, Sort returns a nil Order and a *[CycleError] naming
// one cycle. Sort runs in O(n+m) time for n nodes and m edges.
func (g *Graph) Sort() (*Order, error) {
	n, m := len(g.prio), g.m
	// One allocation for the int32 slices the Order keeps.
	buf := make([]int32, 3*n+1+m)
	o := &Order{rank: ranks(g.prio)}
	o.pos, buf = buf[:n], buf[n:]
	o.ready, buf = buf[:n], buf[n:]
	o.off, buf = buf[:n+1], buf[n+1:]
	o.adj = buf[:m]

	// Successors in CSR form, in the order added: count, sum, fill, shift.
	// Indegrees count duplicate edges, which are decremented as often.
	indeg := make([]int32, n)
	for _, block := range g.edges {
		for _, e := range block {
			o.off[e.from+1]++
		}
	}
	for _, block := range g.edges {
		for _, e := range block {
			indeg[e.to]++
		}
	}
	for v := range n {
		o.off[v+1] += o.off[v]
	}
	for _, block := range g.edges {
		for _, e := range block {
			o.adj[o.off[e.from]] = e.to
			o.off[e.from]++ // ends as the start of e.from+1
		}
	}
	copy(o.off[1:], o.off[:n])
	o.off[0] = 0

	// The ready queue holds each node's place in the order by (priority, index).
	byPlace, place := sortByKey(o.rank)
	q := newReadySet(n)
	for v := range n {
		o.pos[v] = -1
		if indeg[v] == 0 {
			o.ready[v] = -1
			q.add(place[v])
		}
	}

	o.nodes = make([]int, 0, n)
	for !q.empty() {
		v := byPlace[q.popMin()]
		step := int32(len(o.nodes))
		o.pos[v] = step
		o.nodes = append(o.nodes, int(v))
		for _, w := range o.adj[o.off[v]:o.off[v+1]] {
			indeg[w]--
			if indeg[w] == 0 {
				o.ready[w] = step
				q.add(place[w])
			}
		}
	}
	if len(o.nodes) < n {
		return nil, &CycleError{Path: g.cycle(o.pos)}
	}
	return o, nil
}

// ranks maps priorities to uint32 ranks in the same order: the priority itself when
// every priority fits in an int32, else its index among the distinct priorities.
func ranks(prio []int) []uint32 {
	r := make([]uint32, len(prio))
	for v, p := range prio {
		if p < math.MinInt32 || p > math.MaxInt32 {
			distinct := slices.Compact(slices.Sorted(slices.Values(prio)))
			for v, p := range prio {
				i, _ := slices.BinarySearch(distinct, p)
				r[v] = uint32(i)
			}
			return r
		}
		r[v] = uint32(p) ^ 1<<31 // flip the sign bit: int32 order becomes uint32 order
	}
	return r
}
