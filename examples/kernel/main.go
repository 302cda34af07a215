// Command kernel is ply's first example host: it registers a handful of
// plugins in a shuffled order and shows what the kernel made of them — the
// resolved orders with the reason for each place, the lifecycle trace, and
// a typed API handed from one plugin to another.
//
//	go run ./examples/kernel
package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/plykit/ply"
)

// Sessions is the API the "sessions" plugin provides to the others.
type Sessions interface {
	Lookup(token string) (user string, ok bool)
}

type memSessions map[string]string

func (m memSessions) Lookup(t string) (string, bool) { u, ok := m[t]; return u, ok }

var sessionsKey = ply.NewKey[Sessions]("sessions.store")

// traced returns a plugin whose hooks print themselves.
func traced(info ply.Info) ply.Func {
	say := func(op string) func(context.Context) error {
		return func(context.Context) error {
			fmt.Printf("  %-12s %s\n", op, info.ID())
			return nil
		}
	}
	return ply.Func{
		Meta:        info,
		OnProvision: func(ctx context.Context, _ *ply.Setup) error { return say("provision")(ctx) },
		OnStart:     say("start"),
		OnStop:      say("stop"),
	}
}

func main() {
	sessions := traced(ply.Info{Name: "sessions", Version: "1.4.0", Priority: ply.Performance,
		Description: "in-memory session store"})
	sessions.OnProvision = func(_ context.Context, s *ply.Setup) error {
		fmt.Printf("  %-12s %s (provides %s)\n", "provision", s.Info().ID(), sessionsKey.Name())
		return ply.Provide[Sessions](s, sessionsKey, memSessions{"t0k3n": "ada"})
	}
	auth := traced(ply.Info{Name: "auth", Version: "2.1.0", Priority: ply.Security,
		Requires: []ply.Dependency{{Name: "sessions", Constraint: "^1.2"}}, Description: "token auth"})
	auth.OnProvision = func(_ context.Context, s *ply.Setup) error {
		store, err := ply.Lookup(s, sessionsKey)
		if err != nil {
			return err
		}
		user, _ := store.Lookup("t0k3n")
		fmt.Printf("  %-12s %s (looked up %s: t0k3n is %s)\n", "provision", s.Info().ID(), sessionsKey.Name(), user)
		return nil
	}
	plugins := []ply.Plugin{
		traced(ply.Info{Name: "recover", Version: "1.0.0", Priority: ply.System}),
		auth,
		traced(ply.Info{Name: "ratelimit", Version: "1.1.0", Priority: ply.Security, After: []string{"auth"}}),
		traced(ply.Info{Name: "accesslog", Version: "1.0.2", Priority: ply.Logging}),
		traced(ply.Info{Name: "tracing", Version: "0.9.0", Priority: ply.Logging, Before: []string{"auth"}}),
		sessions,
		traced(ply.Info{Name: "router", Version: "1.0.0", Priority: ply.Route}),
	}
	rand.Shuffle(len(plugins), func(i, j int) { plugins[i], plugins[j] = plugins[j], plugins[i] }) //nolint:gosec // a demo's registration order, not a secret

	var registered []string
	for _, p := range plugins {
		registered = append(registered, p.Info().Name)
	}
	fmt.Println("registered (shuffled):", strings.Join(registered, ", "))

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	h, err := ply.New(plugins, ply.WithLogger(logger), ply.WithTimeout(ply.OpStart, 5*time.Second))
	if err != nil {
		fail(err)
	}
	plan, err := h.Plan()
	if err != nil {
		fail(err)
	}
	fmt.Println()
	fmt.Print(plan.Explain(ply.ChainOrder))
	fmt.Println()
	fmt.Print(plan.Explain(ply.LifecycleOrder))
	why, _ := plan.Why(ply.ChainOrder, "tracing", "ratelimit")
	fmt.Println("\nwhy:", why)

	ctx := context.Background()
	fmt.Println("\nlifecycle:")
	if err := h.Start(ctx); err != nil {
		fail(err)
	}
	for _, st := range h.Health(ctx) {
		if st.State != ply.StateOK {
			fail(fmt.Errorf("%s is %s", st.Name, st.State))
		}
	}
	fmt.Println("  all plugins healthy")
	if err := h.Stop(ctx); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "kernel:", err)
	os.Exit(1)
}
