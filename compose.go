package ply

import (
	"context"
	"slices"
)

// frame is a running Compose group: its members and where the chain goes
// after the last one.
type frame struct {
	outer Next
	g     []Layer
	id    uint32
}

// Compose groups layers into one reusable layer; the first is the
// outermost. Members call next.Run like any layer.
func Compose(layers ...Layer) Layer {
	g := slices.DeleteFunc(slices.Clone(layers), func(l Layer) bool { return l == nil })
	if len(g) == 0 {
		return func(ctx context.Context, _ *Call, next Next) error { return next.Run(ctx) }
	}
	return func(ctx context.Context, c *Call, next Next) error {
		c.seq++ // the frame's id: a fresh number no chain level uses
		c.frames = append(c.frames, frame{outer: next, g: g, id: c.seq})
		fi := len(c.frames)
		defer func() { c.frames = c.frames[:fi-1] }() // also when a member panics
		return g[0](ctx, c, Next{c: c, lvl: next.lvl, seq: c.seq, grp: member(fi, 0)})
	}
}

func (c *Call) runGroup(ctx context.Context, n Next) error {
	fi, gi := n.frame()
	if fi > len(c.frames) || c.frames[fi-1].id != n.seq {
		return c.s.levels[n.lvl].fail(ErrNextAfterReturn)
	}
	f := &c.frames[fi-1]
	if gi+1 < len(f.g) {
		return f.g[gi+1](ctx, c, Next{c: c, lvl: n.lvl, seq: n.seq, grp: member(fi, gi+1)})
	}
	return f.outer.Run(ctx)
}

// When runs layer only for calls where pred is true; other calls go
// straight to next.
func When(pred func(*Call) bool, layer Layer) Layer {
	return func(ctx context.Context, c *Call, next Next) error {
		if pred(c) {
			return layer(ctx, c, next)
		}
		return next.Run(ctx)
	}
}

// Pipe runs steps in order before the rest of the chain; each may replace
// the request ([Call.SetRequest]). The first step that fails stops the
// call with its error.
func Pipe(steps ...func(ctx context.Context, c *Call) error) Layer {
	steps = slices.Clone(steps)
	return func(ctx context.Context, c *Call, next Next) error {
		for _, step := range steps {
			if err := step(ctx, c); err != nil {
				return err
			}
		}
		return next.Run(ctx)
	}
}
