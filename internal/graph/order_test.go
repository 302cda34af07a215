package graph

import (
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWhy(t *testing.T) {
	// Priorities 0:10 1:20 2:10 3:0 4:30 5:10; edges 0->3, 3->4, 1->5.
	// Order: 0 (3 becomes ready), 3 (4 ready), 2, 1 (5 ready), 5, 4.
	o, err := build([]int{10, 20, 10, 0, 30, 10}, [][2]int{{0, 3}, {3, 4}, {1, 5}}).Sort()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{0, 3, 2, 1, 5, 4}, o.Nodes()); diff != "" {
		t.Fatalf("Sort() nodes mismatch (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		name string
		a, b int
		want []Step
	}{
		{name: "edge", a: 0, b: 3, want: []Step{{From: 0, To: 3, Kind: Edge}}},
		{name: "lower priority", a: 3, b: 2, want: []Step{{From: 3, To: 2, Kind: Priority}}},
		{name: "registration", a: 0, b: 2, want: []Step{{From: 0, To: 2, Kind: Registration}}},
		{name: "adjacent by priority", a: 2, b: 1, want: []Step{{From: 2, To: 1, Kind: Priority}}},
		{name: "adjacent by edge", a: 1, b: 5, want: []Step{{From: 1, To: 5, Kind: Edge}}},
		{name: "far, b waiting", a: 2, b: 4, want: []Step{{From: 2, To: 4, Kind: Priority}}},
		{
			name: "far, edge chain",
			a:    0, b: 4,
			want: []Step{{From: 0, To: 3, Kind: Edge}, {From: 3, To: 4, Kind: Edge}},
		},
		{
			// 5 was not ready when 2 was placed: it waited for 1.
			name: "waits for predecessor",
			a:    2, b: 5,
			want: []Step{{From: 2, To: 1, Kind: Priority}, {From: 1, To: 5, Kind: Edge}},
		},
		{
			name: "first waits for predecessor",
			a:    0, b: 5,
			want: []Step{{From: 0, To: 1, Kind: Priority}, {From: 1, To: 5, Kind: Edge}},
		},
		{name: "same node", a: 3, b: 3, want: nil},
		{name: "after", a: 4, b: 0, want: nil},
		{name: "after by edge", a: 3, b: 0, want: nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, o.Why(tt.a, tt.b)); diff != "" {
				t.Errorf("Why(%d, %d) mismatch (-want +got):\n%s", tt.a, tt.b, diff)
			}
		})
	}
}

// TestWhyDesignExample explains C, B, A: A(50) after B(400), independent C(100).
func TestWhyDesignExample(t *testing.T) {
	const a, b, c = 0, 1, 2
	o, err := build([]int{50, 400, 100}, [][2]int{{b, a}}).Sort()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		from, to int
		want     []Step
	}{
		{name: "C before B", from: c, to: b, want: []Step{{From: c, To: b, Kind: Priority}}},
		{name: "B before A", from: b, to: a, want: []Step{{From: b, To: a, Kind: Edge}}},
		{
			name: "C before A",
			from: c, to: a,
			want: []Step{{From: c, To: b, Kind: Priority}, {From: b, To: a, Kind: Edge}},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, o.Why(tt.from, tt.to)); diff != "" {
				t.Errorf("Why(%d, %d) mismatch (-want +got):\n%s", tt.from, tt.to, diff)
			}
		})
	}
}

// TestWhyRandom checks every pair of random DAGs: Why is nil exactly when a does not
// precede b, and otherwise a valid chain from a to b.
func TestWhyRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4)) //nolint:gosec // seeded, reproducible test inputs, not secrets
	for i := range 200 {
		n := 1 + r.IntN(30)
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
		for a := range n {
			for b := range n {
				if err := checkWhy(o, prio, edges, a, b); err != "" {
					t.Fatalf("graph %d (prio %v, edges %v, order %v): Why(%d, %d) = %v: %s",
						i, prio, edges, o.Nodes(), a, b, o.Why(a, b), err)
				}
			}
		}
	}
}

// checkWhy returns what is wrong with o.Why(a, b), or "".
func checkWhy(o *Order, prio []int, edges [][2]int, a, b int) string {
	steps := o.Why(a, b)
	if o.Position(a) >= o.Position(b) {
		if steps != nil {
			return "want nil: a does not precede b"
		}
		return ""
	}
	if len(steps) == 0 {
		return "want a chain: a precedes b"
	}
	if steps[0].From != a || steps[len(steps)-1].To != b {
		return "chain does not run from a to b"
	}
	for i, s := range steps {
		if i > 0 && steps[i-1].To != s.From {
			return "steps do not connect"
		}
		if o.Position(s.From) >= o.Position(s.To) {
			return "step goes backwards"
		}
		switch s.Kind {
		case Edge:
			if !hasEdge(edges, s.From, s.To) {
				return "edge step without an edge"
			}
		case Priority:
			if prio[s.From] >= prio[s.To] {
				return "priority step without a lower priority"
			}
		case Registration:
			if prio[s.From] != prio[s.To] || s.From >= s.To {
				return "registration step without equal priority and a lower index"
			}
		default:
			return "unknown kind"
		}
	}
	return ""
}

func hasEdge(edges [][2]int, from, to int) bool {
	for _, e := range edges {
		if e == [2]int{from, to} {
			return true
		}
	}
	return false
}

func TestKindString(t *testing.T) {
	for _, tt := range []struct {
		k    Kind
		want string
	}{
		{k: Edge, want: "edge"},
		{k: Priority, want: "priority"},
		{k: Registration, want: "registration"},
		{k: 0, want: "Kind(0)"},
	} {
		if got := tt.k.String(); got != tt.want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(tt.k), got, tt.want)
		}
	}
}
