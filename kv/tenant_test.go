package kv_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply"
	"github.com/plykit/ply/kv"
	"github.com/plykit/ply/plytest"
)

// TestTenantsIsolation runs one plugin instance, shared by every tenant,
// whose layer writes to the store of the call's tenant: after random
// calls, each tenant's bucket holds only its own writes.
func TestTenantsIsolation(t *testing.T) {
	js := embeddedJS(t)
	stores, err := kv.NewTenants(js, "counter")
	if err != nil {
		t.Fatal(err)
	}
	writer := ply.Func{Meta: ply.Info{Name: "writer", Version: "1.0.0"}, OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
		return ply.Wrap{Layer: func(ctx context.Context, c *ply.Call, next ply.Next) error {
			s, err := stores.Store(ctx)
			if err != nil {
				return err
			}
			key := c.Request().(string)
			tenant, _ := c.Tenant()
			if _, err := s.Put(ctx, key, []byte(tenant)); err != nil {
				return err
			}
			return next.Run(ctx)
		}}, nil
	}}
	tenants := []ply.Tenant{{Name: "acme"}, {Name: "globex"}, {Name: "initech"}}
	byKey := func(_ context.Context, req any) (string, error) {
		tenant, _, _ := strings.Cut(req.(string), "-")
		return tenant, nil
	}
	var last context.Context // the context of the latest call, as the handler saw it
	h := plytest.New(t, []ply.Plugin{writer}, ply.WithLogger(slog.New(slog.DiscardHandler)), ply.WithTenants(byKey, tenants...),
		ply.WithModules(ply.Module{Name: "m", Handlers: []ply.Handler{{Kind: "test", Name: "h", Func: func(ctx context.Context, _ *ply.Call) error {
			last = context.WithoutCancel(ctx)
			return nil
		}}}}))
	ch, err := h.Chain("m", "h")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // a seeded, reproducible test: not for secrets
	want := map[string][]string{}
	for i := range 60 {
		tenant := tenants[rng.IntN(len(tenants))].Name
		key := fmt.Sprintf("%s-%d", tenant, i)
		if _, err := ch.Serve(t.Context(), key, nil); err != nil {
			t.Fatalf("call %s: %v", key, err)
		}
		want[tenant] = append(want[tenant], key)
	}
	for _, tn := range tenants {
		probe := tn.Name + "-probe" // a call of the tenant, for its context
		if _, err := ch.Serve(t.Context(), probe, nil); err != nil {
			t.Fatal(err)
		}
		want[tn.Name] = append(want[tn.Name], probe)
		s, err := stores.Store(last)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := s.Keys(t.Context())
		if err != nil && !errors.Is(err, kv.ErrNotFound) {
			t.Fatal(err)
		}
		slices.Sort(want[tn.Name])
		slices.Sort(keys)
		if diff := cmp.Diff(want[tn.Name], keys); diff != "" {
			t.Errorf("tenant %s's keys (-want +got):\n%s", tn.Name, diff)
		}
		for _, k := range keys {
			e, err := s.Get(t.Context(), k)
			if err != nil || string(e.Value) != tn.Name {
				t.Errorf("tenant %s: key %s = %q, %v; want written by %s", tn.Name, k, e.Value, err, tn.Name)
			}
		}
	}
	if _, err := stores.Store(t.Context()); !errors.Is(err, kv.ErrNoTenant) {
		t.Errorf("Store outside a call: %v, want ErrNoTenant", err)
	}
}
