package graph

import (
	"slices"
	"strconv"
	"strings"
)

// CycleError reports a cycle among the edges of a [Graph], found by [Graph.Sort].
type CycleError struct {
	// Path is the cycle in edge direction, closed: Path[0] == Path[len(Path)-1], and
	// each node has an edge to the next. It starts at the cycle's lowest node; a
	// self-edge on 3 is [3 3].
	Path []int
}

// Error returns the path as "cycle: 2 -> 5 -> 2". Callers that know node names
// render their own message from Path.
func (e *CycleError) Error() string {
	var b strings.Builder
	b.WriteString("cycle: ")
	for i, v := range e.Path {
		if i > 0 {
			b.WriteString(" -> ")
		}
		b.WriteString(strconv.Itoa(v))
	}
	return b.String()
}

// cycle returns one cycle among the nodes that Sort left out: those whose pos is
// negative.
//
// Each node left out has a predecessor left out, so walking from the lowest one to
// its lowest predecessor left out, again and again, must revisit a node. The nodes
// from that node's first visit on form a cycle, in reverse edge direction.
func (g *Graph) cycle(pos []int32) []int {
	n := len(g.prio)
	// Predecessors in CSR form, only for the edges between nodes left out.
	off := make([]int32, n+1)
	for _, block := range g.edges {
		for _, e := range block {
			if pos[e.from] < 0 && pos[e.to] < 0 {
				off[e.to+1]++
			}
		}
	}
	for v := range n {
		off[v+1] += off[v]
	}
	adj := make([]int32, off[n])
	next := slices.Clone(off[:n])
	for _, block := range g.edges {
		for _, e := range block {
			if pos[e.from] < 0 && pos[e.to] < 0 {
				adj[next[e.to]] = e.from
				next[e.to]++
			}
		}
	}

	// seen[v] is v's index in walk plus one; 0 means not visited. next is free now.
	seen := next
	clear(seen)
	var walk []int32
	v := int32(slices.Index(pos, -1)) //nolint:gosec // a node, < n <= MaxInt32 (New)
	for seen[v] == 0 {
		walk = append(walk, v)
		seen[v] = int32(len(walk)) //nolint:gosec // a walk visits each of the n <= MaxInt32 nodes at most once
		v = slices.Min(adj[off[v]:off[v+1]])
	}
	walk = walk[seen[v]-1:]

	// walk is backwards: walk[k+1] -> walk[k]. Reverse it and rotate it so that it
	// starts at its lowest node, then close it.
	slices.Reverse(walk)
	lo := 0
	for i, v := range walk {
		if v < walk[lo] {
			lo = i
		}
	}
	path := make([]int, 0, len(walk)+1)
	for _, v := range walk[lo:] {
		path = append(path, int(v))
	}
	for _, v := range walk[:lo] {
		path = append(path, int(v))
	}
	return append(path, path[0])
}
