package ply_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/plykit/ply"
)

// logged returns a plugin that prints its lifecycle hooks.
func logged(name string, prio int, requires ...string) ply.Plugin {
	var deps []ply.Dependency
	for _, r := range requires {
		deps = append(deps, ply.Dependency{Name: r})
	}
	say := func(op string) func(context.Context) error {
		return func(context.Context) error { fmt.Println(op, name); return nil }
	}
	return ply.Func{
		Meta:    ply.Info{Name: name, Version: "1.0.0", Priority: prio, Requires: deps},
		OnStart: say("start"),
		OnStop:  say("stop"),
	}
}

// Plugins are registered in any order; dependencies start first, then
// lower priorities, then registration order. Stop is the reverse.
func Example() {
	h, err := ply.New([]ply.Plugin{
		logged("api", ply.Business, "db"),
		logged("db", ply.Performance),
		logged("auth", ply.Security),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	if err := h.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	if err := h.Stop(ctx); err != nil {
		fmt.Println(err)
	}
	// Output:
	// start auth
	// start db
	// start api
	// stop api
	// stop db
	// stop auth
}

// A failed Start rolls back: what started is stopped, in reverse.
func ExampleHost_Start_rollback() {
	broken := ply.Func{
		Meta:    ply.Info{Name: "broken", Version: "0.1.0", Priority: ply.Route},
		OnStart: func(context.Context) error { return errors.New("port in use") },
	}
	h, _ := ply.New([]ply.Plugin{logged("auth", ply.Security), broken, logged("db", ply.Performance)})
	err := h.Start(context.Background())
	fmt.Println(err)
	// Output:
	// start auth
	// start db
	// stop db
	// stop auth
	// start broken@0.1.0: port in use
}

// Plan explains the chain order: why each plugin follows the one before.
func ExamplePlan_Explain() {
	h, _ := ply.New([]ply.Plugin{
		ply.Func{Meta: ply.Info{Name: "cache", Version: "1.2.0", Priority: ply.Performance}},
		ply.Func{Meta: ply.Info{Name: "auth", Version: "2.0.0", Priority: ply.Security}},
		ply.Func{Meta: ply.Info{Name: "tracing", Version: "0.9.0", Priority: ply.Logging, Before: []string{"auth"}}},
	})
	plan, err := h.Plan()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(plan.Explain(ply.ChainOrder))
	// Output:
	// chain order:
	//   1. tracing@0.9.0  logging 200
	//   2. auth@2.0.0     security 100     tracing declares Before("auth")
	//   3. cache@1.2.0    performance 400  priority 100 (security) < 400 (performance)
}

// Build problems are all reported at once, before any hook runs.
func ExampleHost_Plan_errors() {
	h, _ := ply.New([]ply.Plugin{
		ply.Func{Meta: ply.Info{Name: "api", Version: "1.0.0", Requires: []ply.Dependency{{Name: "db", Constraint: "^2"}}}},
		ply.Func{Meta: ply.Info{Name: "db", Version: "1.7.0"}},
		ply.Func{Meta: ply.Info{Name: "db", Version: "1.7.0"}},
		ply.Func{Meta: ply.Info{Name: "metrics", Version: "1.0.0", Before: []string{"tracing"}}},
	})
	_, err := h.Plan()
	fmt.Println(err)
	fmt.Println(errors.Is(err, ply.ErrDuplicate), errors.Is(err, ply.ErrVersionMismatch))
	// Output:
	// register db@1.7.0 (#3): already registered as #2: ply: duplicate
	// plugin api@1.0.0 requires db ^2 (registered: 1.7.0): ply: version does not satisfy constraint
	// plugin metrics: Before("tracing"): register "tracing" or remove the constraint: ply: Before/After names no registered plugin
	// true true
}

type greeter interface{ Greet(name string) string }

type english struct{}

func (english) Greet(name string) string { return "hello, " + name }

var greeterKey = ply.NewKey[greeter]("i18n.greeter")

// One plugin provides a typed API; a plugin that depends on it looks it up.
func ExampleLookup() {
	i18n := ply.Func{
		Meta: ply.Info{Name: "i18n", Version: "1.3.0"},
		OnProvision: func(_ context.Context, s *ply.Setup) error {
			return ply.Provide[greeter](s, greeterKey, english{})
		},
	}
	app := ply.Func{
		Meta: ply.Info{Name: "app", Version: "1.0.0", Requires: []ply.Dependency{{Name: "i18n", Constraint: "^1.2"}}},
		OnProvision: func(_ context.Context, s *ply.Setup) error {
			g, err := ply.Lookup(s, greeterKey)
			if err != nil {
				return err
			}
			fmt.Println(g.Greet("plugins"))
			return nil
		},
	}
	h, _ := ply.New([]ply.Plugin{app, i18n})
	if err := h.Start(context.Background()); err != nil {
		fmt.Println(err)
	}
	_ = h.Stop(context.Background())
	// Output:
	// hello, plugins
}

// layer prints its name around the rest of the chain.
func layer(name string) ply.Layer {
	return func(ctx context.Context, _ *ply.Call, next ply.Next) error {
		fmt.Println(name, "before")
		err := next.Run(ctx)
		fmt.Println(name, "after")
		return err
	}
}

// wrapping is a plugin that wraps every handler with a printing layer and
// an after-hook.
func wrapping(name string, prio int) ply.Plugin {
	return ply.Func{
		Meta: ply.Info{Name: name, Version: "1.0.0", Priority: prio},
		OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
			return ply.Wrap{
				Layer: layer(name),
				After: func(_ context.Context, _ *ply.Call, err error, ran bool) error {
					fmt.Println(name, "after-hook, layer ran:", ran)
					return err
				},
			}, nil
		},
	}
}

// The chain is an onion: the lowest priority is the outermost layer. Code
// before next runs outer to inner, code after it inner to outer, and the
// after-hooks run last, outer to inner.
func ExampleChain() {
	h, _ := ply.New([]ply.Plugin{wrapping("cache", ply.Performance), wrapping("auth", ply.Security)})
	_ = h.Mount(ply.Module{Name: "users", Handlers: []ply.Handler{{
		Kind: ply.KindRPC, Name: "get",
		Func: func(_ context.Context, c *ply.Call) error {
			fmt.Println("handler")
			c.SetResponse("ada")
			return nil
		},
	}}})
	ctx := context.Background()
	if err := h.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = h.Stop(ctx) }()
	ch, _ := h.Chain("users", "get")
	user, err := ply.Invoke[string](ctx, ch, nil)
	fmt.Println(user, err)
	// Output:
	// auth before
	// cache before
	// handler
	// cache after
	// auth after
	// auth after-hook, layer ran: true
	// cache after-hook, layer ran: true
	// ada <nil>
}

var requestID = ply.NewKey[string]("requestid.id")

// Layers share request-scoped values through the call's bag, under typed
// keys; values never outlive the call.
func ExampleSet() {
	tag := func(ctx context.Context, c *ply.Call, next ply.Next) error {
		ply.Set(c, requestID, "req-42")
		return next.Run(ctx)
	}
	h, _ := ply.New([]ply.Plugin{ply.Func{
		Meta:   ply.Info{Name: "requestid", Version: "1.0.0", Priority: ply.System},
		OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) { return ply.Wrap{Layer: tag}, nil },
	}})
	_ = h.Mount(ply.Module{Name: "m", Handlers: []ply.Handler{{Kind: ply.KindRPC, Name: "h",
		Func: func(_ context.Context, c *ply.Call) error {
			id, ok := ply.Get(c, requestID)
			fmt.Println(id, ok)
			return nil
		}}}})
	ctx := context.Background()
	_ = h.Start(ctx)
	defer func() { _ = h.Stop(ctx) }()
	ch, _ := h.Chain("m", "h")
	_, _ = ch.Serve(ctx, nil, nil)
	// Output:
	// req-42 true
}
