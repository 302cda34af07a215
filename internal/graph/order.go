package graph

import (
	"fmt"
	"slices"
	"strconv"
)

// Order is the result of [Graph.Sort]: the nodes in order, and what is needed to
// explain it. An Order is immutable and safe for concurrent use.
type Order struct {
	nodes []int
	rank  []uint32     // by node: its priority at the time of Sort, as a rank in the same order
	place []int32      // by node: its index in the order by (priority, index)
	state []placeState // by place
	adj   []int32      // successors, as places: see placeState
}

// Nodes returns the nodes in order. The slice is shared, not copied: the caller must
// not modify it.
func (o *Order) Nodes() []int { return o.nodes }

// Position returns the index of node in [Order.Nodes]. It panics if node is out of
// range.
func (o *Order) Position(node int) int {
	if uint(node) >= uint(len(o.nodes)) {
		panic(fmt.Sprintf("graph: node %d out of range [0,%d)", node, len(o.nodes)))
	}
	return int(o.state[o.place[node]].pos)
}

// Step is one link in the explanation of an order: From comes before To because of
// Kind.
type Step struct {
	From, To int
	Kind     Kind // why From comes before To in this step
}

// Kind is the reason for one [Step].
type Kind int

// The reasons why one node comes before another.
const (
	Edge         Kind = iota + 1 // an edge From -> To was declared
	Priority                     // both were ready; From has the lower priority value
	Registration                 // both were ready with equal priority; From has the lower index
)

// String returns "edge", "priority" or "registration".
func (k Kind) String() string {
	switch k {
	case Edge:
		return "edge"
	case Priority:
		return "priority"
	case Registration:
		return "registration"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Why explains why a precedes b, as a chain of steps from a to b: the first step's
// From is a, the last step's To is b, and each step's To is the next step's From.
// It returns nil if a does not precede b (a == b, or a comes after b).
//
// The chain is built backwards from b. If there is an edge a -> b, the step is that
// [Edge]. Otherwise, if b was in the ready queue when a was popped, a won the tie: the
// step is [Priority] if a has the lower priority, else [Registration]. Otherwise b
// became ready after a was popped, when its last predecessor c was; the chain is
// Why(a, c) followed by the [Edge] c -> b.
//
// Why panics if a or b is out of range.
func (o *Order) Why(a, b int) []Step {
	pa := o.Position(a)
	if pa >= o.Position(b) {
		return nil
	}
	var steps []Step
	for {
		if o.hasEdge(a, b) {
			steps = append(steps, Step{From: a, To: b, Kind: Edge})
			break
		}
		ready := int(o.state[o.place[b]].ready)
		if ready < pa { // b was in the ready queue when a was popped
			k := Registration
			if o.rank[a] < o.rank[b] {
				k = Priority
			}
			steps = append(steps, Step{From: a, To: b, Kind: k})
			break
		}
		// ready > pa: the pop of c, after a's, made b ready. (ready == pa would
		// mean an edge a -> b, handled above.)
		c := o.nodes[ready]
		steps = append(steps, Step{From: c, To: b, Kind: Edge})
		b = c
	}
	slices.Reverse(steps)
	return steps
}

func (o *Order) hasEdge(from, to int) bool {
	st := &o.state[o.place[from]]
	return slices.Contains(o.adj[st.start:st.end], o.place[to])
}
