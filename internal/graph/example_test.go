package graph_test

import (
	"fmt"

	"github.com/plykit/ply/internal/graph"
)

// A(priority 50) depends on B(400), and C(100) is independent: C goes first, having
// the lowest priority among the ready nodes, then B, which makes A ready.
func ExampleOrder_Why() {
	names := []string{"A", "B", "C"}
	g := graph.New(len(names))
	g.SetPriority(0, 50)
	g.SetPriority(1, 400)
	g.SetPriority(2, 100)
	g.AddEdge(1, 0) // B before A

	o, err := g.Sort()
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, v := range o.Nodes() {
		if i > 0 {
			fmt.Print(", ")
		}
		fmt.Print(names[v])
	}
	fmt.Println()
	for _, s := range o.Why(2, 0) {
		fmt.Printf("%s before %s: %s\n", names[s.From], names[s.To], s.Kind)
	}
	// Output:
	// C, B, A
	// C before B: priority
	// B before A: edge
}

func ExampleCycleError() {
	g := graph.New(3)
	g.AddEdge(2, 1)
	g.AddEdge(1, 2)
	_, err := g.Sort()
	fmt.Println(err)
	// Output:
	// cycle: 1 -> 2 -> 1
}
