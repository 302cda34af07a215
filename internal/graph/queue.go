package graph

import "math/bits"

// sortByKey returns the nodes sorted by (rank, index), and the inverse: each node's
// place in that order. It is a radix sort, least significant byte first, of keys that
// carry their node; each pass is stable, so equal ranks keep index order. It skips
// the bytes on which all ranks agree: equal priorities cost no pass at all.
func sortByKey(rank []uint32) (byPlace, place []int32) {
	n := len(rank)
	var count [4][256]int32
	keys := make([]uint64, n)
	for v, r := range rank {
		keys[v] = uint64(r)<<32 | uint64(v)
		count[0][r&0xff]++
		count[1][r>>8&0xff]++
		count[2][r>>16&0xff]++
		count[3][r>>24]++
	}
	var tmp []uint64
	for d := range count {
		shift := 32 + 8*d
		c := &count[d]
		if n == 0 || c[keys[0]>>shift&0xff] == int32(n) {
			continue // every rank has the same byte here
		}
		if tmp == nil {
			tmp = make([]uint64, n)
		}
		var sum int32
		for b, k := range c {
			c[b] = sum
			sum += k
		}
		for _, k := range keys {
			b := k >> shift & 0xff
			tmp[c[b]] = k
			c[b]++
		}
		keys, tmp = tmp, keys
	}
	buf := make([]int32, 2*n)
	byPlace, place = buf[:n], buf[n:]
	for p, k := range keys {
		v := int32(uint32(k))
		byPlace[p] = v
		place[v] = int32(p)
	}
	return byPlace, place
}

// readySet is a set of ints in [0, n) that finds its minimum fast: a 64-ary tree of
// bitmaps, where a bit is set in a level when its word in the level below is not
// zero. Each operation touches one word per level; there are 3 levels up to 262,144
// elements, so a sort with it is linear in practice, where a binary heap of the ready
// nodes costs a logarithm per node.
type readySet struct {
	levels [][]uint64 // levels[0] has a bit per element; the last has one word
}

func newReadySet(n int) readySet {
	size := 0
	for k := max(n, 1); k > 1 || size == 0; k = (k + 63) / 64 {
		size += (k + 63) / 64
	}
	buf := make([]uint64, size)
	var s readySet
	for k := max(n, 1); k > 1 || len(s.levels) == 0; k = (k + 63) / 64 {
		words := (k + 63) / 64
		s.levels, buf = append(s.levels, buf[:words:words]), buf[words:]
	}
	return s
}

func (s *readySet) empty() bool { return s.levels[len(s.levels)-1][0] == 0 }

func (s *readySet) add(x int32) {
	for _, l := range s.levels {
		w := x >> 6
		was := l[w]
		l[w] = was | 1<<(x&63)
		if was != 0 {
			return // the levels above have their bit already
		}
		x = w
	}
}

// popMin removes the smallest element and returns it. The set must not be empty.
func (s *readySet) popMin() int32 {
	var min int32
	for i := len(s.levels) - 1; i >= 0; i-- {
		min = min<<6 | int32(bits.TrailingZeros64(s.levels[i][min]))
	}
	x := min
	for _, l := range s.levels {
		w := x >> 6
		l[w] &^= 1 << (x & 63)
		if l[w] != 0 {
			break // the levels above keep their bit
		}
		x = w
	}
	return min
}
