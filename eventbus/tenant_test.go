package eventbus_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply"
	"github.com/plykit/ply/eventbus"
	"github.com/plykit/ply/plytest"
)

// TestEventsKeepTheirTenant publishes in-process events, sync and async,
// from two tenants' calls: the event handlers' chains run for the
// publishing tenant, whose context they get.
func TestEventsKeepTheirTenant(t *testing.T) {
	got := make(chan string, 4)
	handler := func(ctx context.Context, c *ply.Call) error {
		var s signup
		if err := json.Unmarshal(c.Request().(json.RawMessage), &s); err != nil {
			return err
		}
		fromCall, _ := c.Tenant()
		fromCtx, _ := ply.TenantOf(ctx)
		got <- c.Handler().Name + " " + s.User + " " + fromCall + " " + fromCtx
		return nil
	}
	var bus *eventbus.Bus
	publish := func(ctx context.Context, c *ply.Call) error {
		return eventbus.Publish(ctx, bus, signups, signup{User: c.Request().(string)})
	}
	resolve := func(ctx context.Context, req any) (string, error) {
		if t, ok := ply.TenantOf(ctx); ok { // an event published in a tenant's call
			return t, nil
		}
		if s, ok := req.(string); ok {
			return s, nil
		}
		return "", errors.New("no tenant")
	}
	h := plytest.New(t, []ply.Plugin{eventbus.NewPlugin()}, ply.WithLogger(slog.New(slog.DiscardHandler)),
		ply.WithTenants(resolve, ply.Tenant{Name: "acme"}, ply.Tenant{Name: "globex"}),
		ply.WithModules(ply.Module{Name: "users", Handlers: []ply.Handler{
			{Kind: "rpc", Name: "signup", Func: publish},
			{Kind: ply.KindEvent, Name: "users.*", Func: handler},
			{Kind: ply.KindEvent, Name: "users.>", Func: handler, Options: map[string]any{"events": &eventbus.HandlerOptions{Async: true}}},
		}}))
	var err error
	if bus, err = ply.Lookup(h, eventbus.Key); err != nil {
		t.Fatal(err)
	}
	ch, err := h.Chain("users", "signup")
	if err != nil {
		t.Fatal(err)
	}
	for _, tenant := range []string{"acme", "globex"} {
		if _, err := ch.Serve(t.Context(), tenant, nil); err != nil {
			t.Fatalf("signup as %s: %v", tenant, err)
		}
	}
	lines := []string{<-got, <-got, <-got, <-got}
	slices.Sort(lines)
	want := []string{"users.* acme acme acme", "users.* globex globex globex", "users.> acme acme acme", "users.> globex globex globex"}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("deliveries (handler, user, the chain's tenant, its context's) (-want +got):\n%s", diff)
	}
}

// TestRemoteEventsKeepTheirTenant publishes over NATS from two tenants'
// calls: the remote subscriber reads each event's publishing tenant.
func TestRemoteEventsKeepTheirTenant(t *testing.T) {
	nc := plytest.NATS(t)
	pub := newBus(t, eventbus.WithConn(nc))
	sub := newBus(t, eventbus.WithConn(nc))
	got := make(chan string, 3)
	if _, err := eventbus.Subscribe(sub, ordersAny, func(ctx context.Context, o order) error {
		tenant, err := eventbus.TenantOf(ctx, nil)
		if err != nil {
			tenant = err.Error()
		}
		got <- o.ID + " " + tenant
		return nil
	}, eventbus.Remote()); err != nil {
		t.Fatal(err)
	}
	publish := func(ctx context.Context, c *ply.Call) error {
		return eventbus.Publish(ctx, pub, orderCreated, order{ID: c.Request().(string)})
	}
	h := plytest.New(t, nil, ply.WithLogger(slog.New(slog.DiscardHandler)),
		ply.WithTenants(func(_ context.Context, req any) (string, error) { return req.(string), nil }, ply.Tenant{Name: "acme"}, ply.Tenant{Name: "globex"}),
		ply.WithModules(ply.Module{Name: "m", Handlers: []ply.Handler{{Kind: "rpc", Name: "publish", Func: publish}}}))
	ch, err := h.Chain("m", "publish")
	if err != nil {
		t.Fatal(err)
	}
	for _, tenant := range []string{"acme", "globex"} {
		if _, err := ch.Serve(t.Context(), tenant, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := eventbus.Publish(t.Context(), pub, orderCreated, order{ID: "none"}); err != nil { // outside any call
		t.Fatal(err)
	}
	lines := []string{<-got, <-got, <-got}
	slices.Sort(lines)
	want := []string{"acme acme", "globex globex", "none " + eventbus.ErrNoTenant.Error()}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("remote deliveries (-want +got):\n%s", diff)
	}
}
