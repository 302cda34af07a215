package eventbus_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply"
	"github.com/plykit/ply/eventbus"
	"github.com/plykit/ply/plytest"
)

type signup struct {
	User string `json:"user"`
}

var signups = eventbus.NewTopic[signup]("users.signup")

// Event handlers are ply handlers: events go through the same onion as
// requests, with the event as JSON for a request.
func TestPluginDeliversThroughTheChain(t *testing.T) {
	rec := plytest.NewRecorder()
	audit := ply.Func{Meta: ply.Info{Name: "audit", Version: "1.0.0", Kinds: []ply.Kind{ply.KindEvent}},
		OnWrap: func(_ context.Context, tg ply.Target) (ply.Wrap, error) {
			return ply.Wrap{Layer: rec.Layer("audit " + tg.Handler.Name)}, nil
		}}
	welcome := func(_ context.Context, c *ply.Call) error {
		var s signup
		if err := json.Unmarshal(c.Request().(json.RawMessage), &s); err != nil {
			return err
		}
		rec.Record("welcome ", s.User)
		return nil
	}
	h := plytest.New(t, []ply.Plugin{eventbus.NewPlugin(), audit}, ply.WithLogger(slog.New(slog.DiscardHandler)),
		ply.WithModules(ply.Module{Name: "users", Handlers: []ply.Handler{
			{Kind: ply.KindEvent, Name: "users.*", Func: welcome, Options: map[string]any{"events": &eventbus.HandlerOptions{Priority: 1}}},
		}}))
	bus, err := ply.Lookup(h, eventbus.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := eventbus.Publish(t.Context(), bus, signups, signup{User: "ada"}); err != nil {
		t.Fatal(err)
	}
	want := []string{"audit users.* before", "welcome ada", "audit users.* after"}
	if diff := cmp.Diff(want, rec.Lines()); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
}

func TestPluginRejectsBadSubjects(t *testing.T) {
	h, _ := ply.New([]ply.Plugin{eventbus.NewPlugin()}, ply.WithLogger(slog.New(slog.DiscardHandler)),
		ply.WithModules(ply.Module{Name: "m", Handlers: []ply.Handler{{Kind: ply.KindEvent, Name: "a..b", Func: func(context.Context, *ply.Call) error { return nil }}}}))
	if err := h.Start(t.Context()); err == nil {
		_ = h.Stop(t.Context())
		t.Fatal("Start with an invalid subject succeeded")
	}
}

// Every reload is published on ply.reload with what it did and its
// outcome; a failed one too, with its error.
func TestPluginPublishesReloads(t *testing.T) {
	events := eventbus.NewPlugin()
	h := plytest.New(t, []ply.Plugin{events}, ply.WithLogger(slog.New(slog.DiscardHandler)))
	bus, err := ply.Lookup(h, eventbus.Key)
	if err != nil {
		t.Fatal(err)
	}
	var got []eventbus.Reload
	sub, err := eventbus.Subscribe(bus, eventbus.ReloadTopic, func(_ context.Context, r eventbus.Reload) error {
		r.Took = 0 // varies
		got = append(got, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Drain(context.Background()) })
	errBroken := errors.New("broken")
	for _, extra := range []ply.Plugin{
		ply.Func{Meta: ply.Info{Name: "extra", Version: "1.0.0"}},
		ply.Func{Meta: ply.Info{Name: "extra", Version: "1.0.0"}, OnStart: func(context.Context) error { return errBroken }},
	} {
		_, _ = h.Reload(t.Context(), ply.Change{Plugins: []ply.Plugin{events, extra}}) // the events say how it went
	}
	if len(got) != 2 {
		t.Fatalf("got %d reload events, want 2: %+v", len(got), got)
	}
	if !strings.Contains(got[1].Error, errBroken.Error()) {
		t.Errorf("the failed reload's error = %q, want it to name %q", got[1].Error, errBroken)
	}
	got[1].Error = ""
	want := []eventbus.Reload{
		{Generation: 2, Added: []string{"extra@1.0.0"}, Outcome: ply.ReloadOK},
		{Outcome: ply.ReloadFailed},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reload events (-want +got):\n%s", diff)
	}
}

// A reload whose bake swaps the old generation back is published as
// rolled back, with why.
func TestPluginPublishesRollbacks(t *testing.T) {
	events := eventbus.NewPlugin()
	errBad := errors.New("bad layer")
	risky := func(version string, bad bool) ply.Plugin {
		return ply.Func{Meta: ply.Info{Name: "risky", Version: version, Kinds: []ply.Kind{ply.KindRPC}},
			OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
				return ply.Wrap{Layer: func(ctx context.Context, _ *ply.Call, next ply.Next) error {
					if bad {
						return errBad
					}
					return next.Run(ctx)
				}}, nil
			}}
	}
	ok := func(context.Context, *ply.Call) error { return nil }
	h := plytest.New(t, []ply.Plugin{events, risky("1.0.0", false)}, ply.WithLogger(slog.New(slog.DiscardHandler)),
		ply.WithBake(time.Hour, 0.05), ply.WithModules(ply.Module{Name: "m", Handlers: []ply.Handler{{Kind: ply.KindRPC, Name: "h", Func: ok}}}))
	ch, err := h.Chain("m", "h")
	if err != nil {
		t.Fatal(err)
	}
	bus, err := ply.Lookup(h, eventbus.Key)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan eventbus.Reload, 1)
	sub, err := eventbus.Subscribe(bus, eventbus.ReloadTopic, func(_ context.Context, r eventbus.Reload) error {
		got <- r
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Drain(context.Background()) })
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // calls during the bake, for it to judge the new generation
		for {
			select {
			case <-stop:
				return
			default:
				_, _ = ch.Serve(t.Context(), nil, nil)
			}
		}
	})
	_, err = h.Reload(t.Context(), ply.Change{Plugins: []ply.Plugin{events, risky("1.1.0", true)}})
	close(stop)
	wg.Wait()
	if !errors.Is(err, ply.ErrRolledBack) {
		t.Fatalf("Reload = %v, want %v", err, ply.ErrRolledBack)
	}
	r := <-got
	if r.Outcome != ply.ReloadRolledBack || !strings.Contains(r.Error, "failed") {
		t.Errorf("the event = %+v, want outcome %q and the bake's reason", r, ply.ReloadRolledBack)
	}
}
