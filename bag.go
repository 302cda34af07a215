package ply

// The request bag: values that layers share during one call, under typed
// keys. A pooled Call keeps its slots between calls, so after warm-up Get
// and Set allocate nothing; a generation number hides values from earlier
// calls, and release drops them so they are not kept alive.

type slotter interface{ reset() }

type slot[T any] struct {
	v   T
	gen uint32
}

func (s *slot[T]) reset() {
	var zero T
	s.v = zero
}

type bagEntry struct {
	id uint32
	s  slotter
}

// Get returns the value stored under k during this call, and whether one
// was.
func Get[T any](c *Call, k Key[T]) (T, bool) {
	for i := range c.bag {
		if c.bag[i].id == k.id {
			if s := c.bag[i].s.(*slot[T]); s.gen == c.gen {
				return s.v, true
			}
			break
		}
	}
	var zero T
	return zero, false
}

// Set stores v under k for the rest of this call. Values never outlive the
// call, and concurrent calls never see each other's.
func Set[T any](c *Call, k Key[T], v T) {
	for i := range c.bag {
		if c.bag[i].id == k.id {
			s := c.bag[i].s.(*slot[T]) // a key's id is unique to its type
			s.v, s.gen = v, c.gen
			return
		}
	}
	c.bag = append(c.bag, bagEntry{id: k.id, s: &slot[T]{v: v, gen: c.gen}})
}

// clearBag ends the call's generation and drops its values.
func (c *Call) clearBag() {
	for i := range c.bag {
		c.bag[i].s.reset()
	}
	c.gen++
}
