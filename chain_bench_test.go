package ply_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/plykit/ply"
)

var benchKey = ply.NewKey[int]("bench.count")

// work is the trivial work of every layer: a request-bag read and write.
func work(c *ply.Call) {
	n, _ := ply.Get(c, benchKey)
	ply.Set(c, benchKey, n+1)
}

func benchHook(_ context.Context, c *ply.Call, err error, _ bool) error {
	work(c)
	return err
}

func benchHandler(_ context.Context, c *ply.Call) error { work(c); return nil }

// handler is the signature hand-composed middleware wraps.
type handler func(ctx context.Context, c *ply.Call) error

// closureChain hand-composes depth closures once, the way one would
// without ply; every other one runs the after-hook's work after next.
func closureChain(depth int) handler {
	h := handler(benchHandler)
	for i := depth - 1; i >= 0; i-- {
		next := h
		if i%2 == 0 {
			h = func(ctx context.Context, c *ply.Call) error {
				work(c)
				err := next(ctx, c)
				return benchHook(ctx, c, err, true)
			}
		} else {
			h = func(ctx context.Context, c *ply.Call) error { work(c); return next(ctx, c) }
		}
	}
	return h
}

// recoveringChain is closureChain with the guarantee ply gives written by
// hand: every level turns a panic inside it into an error its caller sees.
func recoveringChain(depth int) handler {
	h := handler(benchHandler)
	for i := depth - 1; i >= 0; i-- {
		next := h
		hooked := i%2 == 0
		h = func(ctx context.Context, c *ply.Call) (err error) {
			work(c)
			err = func() (err error) {
				defer func() {
					if v := recover(); v != nil {
						err = fmt.Errorf("panic: %v", v)
					}
				}()
				return next(ctx, c)
			}()
			if hooked {
				err = benchHook(ctx, c, err, true)
			}
			return err
		}
	}
	return h
}

// naiveChain is the seeds' design: a fresh next closure per layer per call.
func naiveChain(depth int) handler {
	type layer func(ctx context.Context, c *ply.Call, next func(context.Context) error) error
	layers := make([]layer, depth)
	for i := range layers {
		layers[i] = func(ctx context.Context, c *ply.Call, next func(context.Context) error) error {
			work(c)
			err := next(ctx)
			if i%2 == 0 {
				err = benchHook(ctx, c, err, true)
			}
			return err
		}
	}
	return func(ctx context.Context, c *ply.Call) error {
		var at func(i int) func(context.Context) error
		at = func(i int) func(context.Context) error {
			return func(ctx context.Context) error {
				if i == len(layers) {
					return benchHandler(ctx, c)
				}
				return layers[i](ctx, c, at(i+1))
			}
		}
		return at(0)(ctx)
	}
}

// plyLayers returns depth plugins, each wrapping with a layer doing the
// same work; every other one also registers an after-hook.
func plyLayers(depth int) []ply.Plugin {
	layer := func(ctx context.Context, c *ply.Call, next ply.Next) error {
		work(c)
		return next.Run(ctx)
	}
	ps := make([]ply.Plugin, depth)
	for i := range ps {
		var after ply.AfterHook
		if i%2 == 0 {
			after = benchHook
		}
		ps[i] = layerPlugin(fmt.Sprintf("l%02d", i), ply.Business+i, layer, after)
	}
	return ps
}

// BenchmarkChain compares a ply chain of depth layers with the same layers
// hand-composed as closures: bare (closure), with a do-nothing out-of-line
// call per level (trampoline: the floor for any design with a kernel frame
// per level), recovering at every level (closure+recover: what a per-level
// recover costs), and with a fresh next closure per call (naive: the seeds'
// design). Every variant runs inside a ply handler, so all pay the same
// pooled call, request bag and the call's one recover.
func BenchmarkChain(b *testing.B) {
	ctx := context.Background()
	for _, depth := range []int{1, 5, 10, 20} {
		variants := []struct {
			impl  string
			mount func(b *testing.B) *ply.Chain
		}{
			{"ply", func(b *testing.B) *ply.Chain {
				b.Helper()
				return mount(b, plyLayers(depth), benchHandler, ply.WithLogger(discard))
			}},
			{"closure", func(b *testing.B) *ply.Chain {
				b.Helper()
				return mount(b, nil, ply.HandlerFunc(closureChain(depth)), ply.WithLogger(discard))
			}},
			{"closure+recover", func(b *testing.B) *ply.Chain {
				b.Helper()
				return mount(b, nil, ply.HandlerFunc(recoveringChain(depth)), ply.WithLogger(discard))
			}},
			{"trampoline", func(b *testing.B) *ply.Chain {
				b.Helper()
				return mount(b, nil, ply.HandlerFunc(trampolineChain(depth)), ply.WithLogger(discard))
			}},
			{"naive", func(b *testing.B) *ply.Chain {
				b.Helper()
				return mount(b, nil, ply.HandlerFunc(naiveChain(depth)), ply.WithLogger(discard))
			}},
		}
		for _, v := range variants {
			b.Run(fmt.Sprintf("impl=%s/depth=%d", v.impl, depth), func(b *testing.B) {
				ch := v.mount(b)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := ch.Serve(ctx, nil, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// trampoline is one out-of-line call, as a kernel frame per level is.
//
//go:noinline
func trampoline(ctx context.Context, c *ply.Call, next handler) error { return next(ctx, c) }

// trampolineChain is closureChain with a trampoline between levels.
func trampolineChain(depth int) handler {
	h := handler(benchHandler)
	for i := depth - 1; i >= 0; i-- {
		next := h
		if i%2 == 0 {
			h = func(ctx context.Context, c *ply.Call) error {
				work(c)
				err := trampoline(ctx, c, next)
				return benchHook(ctx, c, err, true)
			}
		} else {
			h = func(ctx context.Context, c *ply.Call) error { work(c); return trampoline(ctx, c, next) }
		}
	}
	return h
}
