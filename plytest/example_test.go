package plytest_test

import (
	"context"
	"fmt"

	"github.com/plykit/ply"
	"github.com/plykit/ply/plytest"
)

// A Recorder turns a host's lifecycle and one call through its onion into
// lines that a test compares with the trace it expects (with cmp.Diff). In
// a test, plytest.New(t, plugins, opts...) builds and starts the host and
// stops it when the test ends; this example does by hand what New does.
func ExampleRecorder() {
	rec := plytest.NewRecorder()
	layer := func(name string, priority int) ply.Plugin {
		return ply.Func{
			Meta: ply.Info{Name: name, Version: "1.0.0", Priority: priority},
			OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
				return ply.Wrap{Layer: rec.Layer(name), After: rec.After(name)}, nil
			},
		}
	}
	ctx := context.Background()
	h, err := ply.New([]ply.Plugin{layer("cache", ply.Performance), layer("auth", ply.Security)},
		ply.WithObserver(rec.Observe),
		ply.WithModules(ply.Module{Name: "users", Handlers: []ply.Handler{{Kind: ply.KindRPC, Name: "get", Func: rec.Handler("get")}}}))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := h.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = h.Stop(ctx) }()
	ch, err := h.Chain("users", "get")
	if err != nil {
		fmt.Println(err)
		return
	}
	rec.Reset() // keep only the call
	res, err := ch.Serve(ctx, nil, nil)
	fmt.Println(res, err)
	for _, line := range rec.Lines() {
		fmt.Println(line)
	}
	// Output:
	// get <nil>
	// auth before
	// cache before
	// handler get
	// cache after
	// auth after
	// auth hook ran=true err=<nil>
	// cache hook ran=true err=<nil>
}
