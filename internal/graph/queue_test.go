package graph

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestReadySet checks the set against a sorted slice, at sizes around the word and
// level boundaries.
func TestReadySet(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6)) //nolint:gosec // seeded, reproducible test inputs, not secrets
	for _, n := range []int{1, 2, 63, 64, 65, 4095, 4096, 4097, 262144, 262145} {
		s := newReadySet(n)
		var want []int32 // sorted
		for i := range 20000 {
			if len(want) > 0 && r.IntN(2) == 0 {
				got := s.popMin()
				if got != want[0] {
					t.Fatalf("n=%d, op %d: popMin() = %d, want %d", n, i, got, want[0])
				}
				want = want[1:]
			} else {
				x := int32(r.IntN(n)) //nolint:gosec // n <= 262145
				if len(want) < 8 && r.IntN(2) == 0 {
					x = int32(n - 1 - r.IntN(min(n, 3))) //nolint:gosec // n <= 262145; the high end too
				}
				d := int32(r.IntN(2)) //nolint:gosec // 0 or 1
				s.addIfZero(x, d)
				if i, found := slices.BinarySearch(want, x); d == 0 && !found {
					want = slices.Insert(want, i, x)
				}
			}
			if got := s.empty(); got != (len(want) == 0) {
				t.Fatalf("n=%d, op %d: empty() = %v with %d elements", n, i, got, len(want))
			}
		}
	}
}

func TestSortByKey(t *testing.T) {
	for _, tt := range []struct {
		name string
		rank []uint32
		want []int32
	}{
		{name: "empty", rank: []uint32{}, want: []int32{}},
		{name: "equal", rank: []uint32{7, 7, 7}, want: []int32{0, 1, 2}},
		{name: "low byte", rank: []uint32{3, 1, 2, 1}, want: []int32{1, 3, 2, 0}},
		{
			name: "every byte",
			rank: []uint32{1 << 24, 1 << 16, 1 << 8, 1, 0, 1 << 24, 1<<24 | 1},
			want: []int32{4, 3, 2, 1, 0, 5, 6},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			byPlace, place := sortByKey(tt.rank)
			if diff := cmp.Diff(tt.want, byPlace); diff != "" {
				t.Errorf("sortByKey(%v) mismatch (-want +got):\n%s", tt.rank, diff)
			}
			for p, v := range byPlace {
				if place[v] != int32(p) {
					t.Errorf("place[%d] = %d, want %d", v, place[v], p)
				}
			}
		})
	}
}
