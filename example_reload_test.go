package ply_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/plykit/ply"
)

// welcomer answers with its greeting, and keeps a count of its calls that
// it hands to the instance replacing it.
type welcomer struct {
	greeting string
	calls    int
}

func (g *welcomer) Info() ply.Info { return ply.Info{Name: "welcomer", Version: "1.0.0"} }

func (g *welcomer) Wrap(context.Context, ply.Target) (ply.Wrap, error) {
	return ply.Wrap{Layer: func(_ context.Context, c *ply.Call, _ ply.Next) error {
		g.calls++ // a plain int for the example's one caller; use atomics when calls run concurrently
		c.SetResponse(fmt.Sprintf("%s (call %d)", g.greeting, g.calls))
		return nil
	}}, nil
}

func (g *welcomer) ExportState(context.Context) (any, error) { return g.calls, nil }

func (g *welcomer) ImportState(_ context.Context, state any, _ ply.Info) error {
	g.calls = state.(int)
	return nil
}

func (g *welcomer) Stop(context.Context) error {
	fmt.Println("stopped:", g.greeting)
	return nil
}

// A reload replaces the welcomer while the host runs: the new instance takes
// over the count, the chain answers from the new generation, and the old
// instance is stopped once its calls are done.
func ExampleHost_Reload() {
	quiet := ply.WithLogger(slog.New(slog.DiscardHandler))
	hello := ply.Module{Name: "site", Handlers: []ply.Handler{{Kind: ply.KindRPC, Name: "hello",
		Func: func(context.Context, *ply.Call) error { return nil }}}}
	h, err := ply.New([]ply.Plugin{&welcomer{greeting: "hello"}}, ply.WithModules(hello), quiet)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := h.Start(ctx); err != nil {
		panic(err)
	}
	ch, _ := h.Chain("site", "hello")
	say := func() {
		res, _ := ply.Invoke[string](ctx, ch, nil)
		fmt.Println(res)
	}
	say()
	say()

	rl, err := h.Reload(ctx, ply.Change{Plugins: []ply.Plugin{&welcomer{greeting: "bonjour"}}})
	if err != nil {
		panic(err)
	}
	fmt.Println("replaced:", strings.Join(rl.Replaced, ", "))
	say()
	_ = h.Stop(ctx)
	// Output:
	// hello (call 1)
	// hello (call 2)
	// stopped: hello
	// replaced: welcomer@1.0.0
	// bonjour (call 3)
	// stopped: bonjour
}
