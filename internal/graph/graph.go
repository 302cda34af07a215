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
	// The edges in the order added, in blocks that double in size, so that adding an
	// edge never copies the ones before.
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
	if uint(node) >= uint(len(g.prio)) {
		g.outOfRange(node)
	}
	g.prio[node] = priority
}

// AddEdge declares that from must come before to. Adding the same edge twice is
// allowed and changes nothing. A self-edge (from == to) is a cycle of length 1.
// It panics if either node is out of range, or if the graph has [math.MaxInt32]
// edges already.
func (g *Graph) AddEdge(from, to int) {
	if uint(from) >= uint(len(g.prio)) {
		g.outOfRange(from)
	}
	if uint(to) >= uint(len(g.prio)) {
		g.outOfRange(to)
	}
	last := len(g.edges) - 1
	if last < 0 || len(g.edges[last]) == cap(g.edges[last]) {
		g.grow()
		last++
	}
	g.edges[last] = append(g.edges[last], edge{int32(from), int32(to)}) //nolint:gosec // both < len(g.prio) <= MaxInt32 (New)
	g.m++
}

// grow adds a block for edges, twice as large as the last one.
func (g *Graph) grow() {
	size := 64
	if len(g.edges) > 0 {
		size = 2 * cap(g.edges[len(g.edges)-1])
	}
	size = min(size, math.MaxInt32-g.m) // edge indexes stay int32
	if size == 0 {
		panic("graph: AddEdge: too many edges")
	}
	g.edges = append(g.edges, make([]edge, 0, size))
}

func (g *Graph) outOfRange(node int) {
	panic(fmt.Sprintf("graph: node %d out of range [0,%d)", node, len(g.prio)))
}

// Sort orders the nodes with Kahn's algorithm. The ready queue is ordered by
// (priority, index): each step pops the ready node with the lowest priority, and
// among equal priorities the lowest index. Edges always hold; priority and index only
// break ties between ready nodes.
//
// If the edges contain a cycle, Sort returns a nil Order and a *[CycleError] naming
// one cycle. For n nodes and m edges, Sort takes O((n+m)·log₆₄ n) time, where the
// logarithm, the depth of the ready queue, is 3 up to 262,144 nodes.
func (g *Graph) Sort() (*Order, error) {
	n, m := len(g.prio), g.m
	o := &Order{rank: ranks(g.prio)}

	// Inside, a node is known by its place: its index in the order by
	// (priority, index). The ready queue is then a set of places, and its minimum is
	// the node that goes next.
	byPlace, place := sortByKey(o.rank)
	o.place = place

	// Successors in CSR form, in the order added: count, sum, fill, shift. Each pass
	// over the edges updates a single array at random, which then stays in cache.
	// Indegrees count duplicate edges, which are decremented as often.
	scratch := make([]int32, 2*n+1)
	indeg, off := scratch[:n:n], scratch[n:] // by node
	o.adj = make([]int32, m)
	for _, block := range g.edges {
		for _, e := range block {
			off[e.from+1]++
		}
	}
	for _, block := range g.edges {
		for _, e := range block {
			indeg[e.to]++
		}
	}
	for v := range n {
		off[v+1] += off[v]
	}
	for _, block := range g.edges {
		for _, e := range block {
			o.adj[off[e.from]] = e.to
			off[e.from]++ // ends as the start of e.from+1
		}
	}
	copy(off[1:], off[:n])
	off[0] = 0
	for i, w := range o.adj {
		o.adj[i] = place[w]
	}
	o.state = make([]placeState, n)
	for p, v := range byPlace {
		o.state[p] = placeState{indeg: indeg[v], start: off[v], end: off[v+1]}
	}

	order := kahn(o.adj, o.state, indeg[:0]) // indeg is free again: reuse it
	if len(order) < n {
		pos := make([]int32, n) // by node
		for v, p := range place {
			pos[v] = o.state[p].pos
		}
		return nil, &CycleError{Path: g.cycle(pos)}
	}
	o.nodes = make([]int, n)
	for i, p := range order {
		o.nodes[i] = int(byPlace[p])
	}
	return o, nil
}

// placeState is what Sort knows about the node at one place. Keeping it together
// means that following an edge to the node, and later popping the node, touch one
// cache line.
type placeState struct {
	indeg      int32 // predecessors not popped yet
	ready      int32 // the pop step that made it ready; -1 if ready at the start
	pos        int32 // its pop step, its index in the order; -1 if never popped
	start, end int32 // its successors are the places adj[start:end]
}

// kahn runs Kahn's algorithm on places, whose indegrees and successors are set in
// state. It appends the places in order to order, and sets their pop step and ready
// step in state.
//
// The loop has no branch that depends on the graph, but for its loop conditions:
// following an edge stores the current step as the target's ready step (the last
// store is by the pop that made it ready), and adds the target to the queue only if
// its indegree reached zero, with a mask.
func kahn(adj []int32, state []placeState, order []int32) []int32 {
	q := newReadySet(len(state))
	for p := range state {
		st := &state[p]
		st.pos, st.ready = -1, -1
		if st.indeg == 0 {
			q.add(int32(p))
		}
	}
	for !q.empty() {
		p := q.popMin()
		step := int32(len(order)) //nolint:gosec // at most n <= MaxInt32 nodes (New)
		order = append(order, p)
		st := &state[p]
		st.pos = step
		for _, w := range adj[st.start:st.end] {
			sw := &state[w]
			sw.indeg--
			sw.ready = step
			q.addIfZero(w, sw.indeg)
		}
	}
	return order
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
				r[v] = uint32(i) //nolint:gosec // an index below len(prio) <= MaxInt32 (New)
			}
			return r
		}
		r[v] = uint32(p) ^ 1<<31 //nolint:gosec // p fits in an int32 (checked above); flip the sign bit: int32 order becomes uint32 order
	}
	return r
}
