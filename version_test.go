package ply_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply"
)

// authVersions are two versions of one plugin, side by side.
func authVersions() []ply.Plugin {
	return []ply.Plugin{
		&tstamp{name: "auth", version: "1.4.0", prio: ply.Security, opts: tstampOpts{Tag: "v1"}},
		&tstamp{name: "auth", version: "2.0.0", prio: ply.Security, opts: tstampOpts{Tag: "v2"}},
	}
}

// served returns the version of auth that served a call.
func served(t *testing.T, ch *ply.Chain, r *treq) string {
	t.Helper()
	seen, err := call(t.Context(), ch, r)
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	var versions []string
	for _, s := range seen {
		if v, ok := strings.CutPrefix(s, "auth@"); ok {
			versions = append(versions, strings.Fields(v)[0])
		}
	}
	if len(versions) != 1 {
		t.Fatalf("layers %v: want exactly one version of auth", seen)
	}
	return versions[0]
}

func TestVersionSelection(t *testing.T) {
	tenants := ply.WithTenants(byTenant,
		ply.Tenant{Name: "plain"},
		ply.Tenant{Name: "old", Plugins: map[string]ply.TenantPlugin{"auth": {Version: "1.4.0"}}},
	)
	for _, tt := range []struct {
		name string
		opts []ply.Option
		req  treq
		want string
	}{
		{name: "the highest active version by default", opts: []ply.Option{tenants}, req: treq{tenant: "plain"}, want: "2.0.0"},
		{name: "no tenants: the highest version", opts: []ply.Option{}, req: treq{}, want: "2.0.0"},
		{name: "a beta version serves only when asked", opts: []ply.Option{ply.WithRelease("auth@2.0.0", ply.Release{State: ply.Beta})}, req: treq{}, want: "1.4.0"},
		{name: "a pin", opts: []ply.Option{tenants}, req: treq{tenant: "old"}, want: "1.4.0"},
		{name: "the header, allowlisted", opts: []ply.Option{tenants, ply.WithVersionHeader(byVersion, "auth")}, req: treq{tenant: "plain", version: "auth@1.4.0"}, want: "1.4.0"},
		{name: "the header names an absent version", opts: []ply.Option{tenants, ply.WithVersionHeader(byVersion, "auth")}, req: treq{tenant: "plain", version: "auth@3.0.0"}, want: "2.0.0"},
		{name: "a pin wins over the header", opts: []ply.Option{tenants, ply.WithVersionHeader(byVersion, "auth")}, req: treq{tenant: "old", version: "auth@2.0.0"}, want: "1.4.0"},
		{name: "the header is off by default", opts: []ply.Option{tenants}, req: treq{tenant: "plain", version: "auth@1.4.0"}, want: "2.0.0"},
		{name: "weights all on one version", opts: []ply.Option{tenants, ply.WithWeights("auth", nil, map[string]int{"1.4.0": 1})}, req: treq{tenant: "plain"}, want: "1.4.0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			if tt.req.tenant == "" {
				opts = append(opts, ply.WithTenants(nil, ply.Tenant{Name: ""}))
			}
			_, ch := startTenants(t, authVersions(), opts...)
			if got := served(t, ch, &tt.req); got != tt.want {
				t.Errorf("served by auth@%s, want %s", got, tt.want)
			}
		})
	}
}

// TestVersionOptionsByID gives each version its own options, keyed
// name@version.
func TestVersionOptionsByID(t *testing.T) {
	_, ch := startTenants(t, authVersions(), ply.WithTenants(byTenant, ply.Tenant{Name: "a", Plugins: map[string]ply.TenantPlugin{"auth": {Version: "1.4.0"}}}, ply.Tenant{Name: "b"}),
		ply.WithOptions("auth@1.4.0", ply.RawOptions{Data: []byte("tag: one")}),
		ply.WithOptions("auth@2.0.0", ply.RawOptions{Data: []byte("tag: two")}))
	for tenant, want := range map[string]string{"a": "auth@1.4.0 tag=one limit=0", "b": "auth@2.0.0 tag=two limit=0"} {
		seen, err := call(t.Context(), ch, &treq{tenant: tenant})
		if err != nil || seen[0] != want {
			t.Errorf("tenant %s: %v, %v; want %q first", tenant, seen, err, want)
		}
	}
}

// TestWeightsHold sends 100,000 calls of distinct users: each version's
// share is within one percentage point of its weight, and a user stays
// on one version.
func TestWeightsHold(t *testing.T) {
	for _, w := range []int{10, 25, 50} {
		t.Run(fmt.Sprint(w), func(t *testing.T) {
			_, ch := startTenants(t, authVersions(), ply.WithTenants(byTenant, ply.Tenant{Name: "a"}),
				ply.WithWeights("auth", byUser, map[string]int{"1.4.0": 100 - w, "2.0.0": w}))
			const n = 100_000
			v2 := 0
			for i := range n {
				if served(t, ch, &treq{tenant: "a", user: fmt.Sprint("user-", i)}) == "2.0.0" {
					v2++
				}
			}
			share := 100 * float64(v2) / n
			t.Logf("weight %d%%: auth@2.0.0 served %.2f%% of %d calls", w, share, n)
			if math.Abs(share-float64(w)) > 1 {
				t.Errorf("auth@2.0.0 served %.2f%% of calls, want %d%% ± 1", share, w)
			}
			for i := range 100 {
				user := fmt.Sprint("user-", i)
				first := served(t, ch, &treq{tenant: "a", user: user})
				for range 3 {
					if got := served(t, ch, &treq{tenant: "a", user: user}); got != first {
						t.Fatalf("user %s moved from %s to %s with the weights unchanged", user, first, got)
					}
				}
			}
		})
	}
}

var authAPI = ply.NewKey[string]("auth.version")

func TestDependentsResolveTheirVersion(t *testing.T) {
	provider := func(v string) ply.Plugin {
		return ply.Func{Meta: ply.Info{Name: "auth", Version: v}, OnProvision: func(_ context.Context, s *ply.Setup) error {
			return ply.Provide(s, authAPI, v)
		}}
	}
	var got atomic.Value
	dependent := ply.Func{Meta: ply.Info{Name: "session", Version: "1.0.0", Requires: []ply.Dependency{{Name: "auth", Constraint: "^1.2"}}},
		OnProvision: func(_ context.Context, s *ply.Setup) error {
			v, err := ply.Lookup(s, authAPI)
			got.Store(v)
			return err
		}}
	_, _ = startTenants(t, []ply.Plugin{provider("1.4.0"), provider("2.0.0"), dependent})
	if got.Load() != "1.4.0" {
		t.Errorf("session@1.0.0 (auth ^1.2) got auth@%v, want auth@1.4.0", got.Load())
	}
}

// TestDeprecatedWarnsOncePerTenant serves a deprecated version to two
// tenants: one warning each, every call counted, and the call knows.
func TestDeprecatedWarnsOncePerTenant(t *testing.T) {
	logs := &countingHandler{warns: make(map[string]int)}
	since := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	var deprecation atomic.Value
	probe := ply.Func{Meta: ply.Info{Name: "probe", Version: "1.0.0", Priority: ply.Route}, OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
		return ply.Wrap{Layer: func(ctx context.Context, c *ply.Call, next ply.Next) error {
			if at, ok := c.Deprecation(); ok {
				deprecation.Store(at)
			}
			return next.Run(ctx)
		}}, nil
	}}
	h, ch := startTenants(t, append(authVersions(), probe), ply.WithLogger(slog.New(logs)),
		ply.WithTenants(byTenant, ply.Tenant{Name: "a"}, ply.Tenant{Name: "b"}, ply.Tenant{Name: "new", Plugins: map[string]ply.TenantPlugin{"auth": {Version: "2.0.0"}}}),
		ply.WithRelease("auth@1.4.0", ply.Release{State: ply.Deprecated, Since: since}),
		ply.WithRelease("auth@2.0.0", ply.Release{State: ply.Beta}))
	for range 5 {
		for _, tenant := range []string{"a", "b", "new"} {
			served(t, ch, &treq{tenant: tenant})
		}
	}
	want := map[string]int{
		"a deprecated plugin version serves this tenant version=1.4.0 tenant=a": 1,
		"a deprecated plugin version serves this tenant version=1.4.0 tenant=b": 1,
	}
	if diff := cmp.Diff(want, logs.warns); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int64{"auth@1.4.0": 10}, h.DeprecatedCalls()); diff != "" {
		t.Errorf("DeprecatedCalls (-want +got):\n%s", diff)
	}
	if got := deprecation.Load(); got != since {
		t.Errorf("Call.Deprecation = %v, want %v", got, since)
	}
}

// TestVersionsUnderLoad serves two versions at once while reloads change
// their weights: no call fails, and every response names the one version
// that served it.
func TestVersionsUnderLoad(t *testing.T) {
	weights := func(w int) []ply.Option {
		return []ply.Option{ply.WithTenants(byTenant, ply.Tenant{Name: "a"}, ply.Tenant{Name: "b"}),
			ply.WithWeights("auth", byUser, map[string]int{"1.4.0": 100 - w, "2.0.0": w})}
	}
	ps := authVersions()
	h, ch := startTenants(t, ps, weights(0)...)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var failed, calls atomic.Int64
	var by [2]atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				seen, err := call(context.Background(), ch, &treq{tenant: []string{"a", "b"}[w%2], user: fmt.Sprint(w, "-", i)})
				calls.Add(1)
				n := 0
				for _, s := range seen {
					switch {
					case strings.HasPrefix(s, "auth@1.4.0"):
						n++
						by[0].Add(1)
					case strings.HasPrefix(s, "auth@2.0.0"):
						n++
						by[1].Add(1)
					}
				}
				if err != nil || n != 1 {
					failed.Add(1)
				}
			}
		})
	}
	for i := range 40 {
		if _, err := h.Reload(t.Context(), ply.Change{Plugins: ps, Options: append(weights((i*25)%101), ply.WithLogger(discard), ply.WithModules(echo()))}); err != nil {
			t.Errorf("Reload #%d: %v", i, err)
			break
		}
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Errorf("%d of %d calls failed or were not served by exactly one version", failed.Load(), calls.Load())
	}
	if by[0].Load() == 0 || by[1].Load() == 0 {
		t.Errorf("served by 1.4.0: %d, by 2.0.0: %d; want both to serve", by[0].Load(), by[1].Load())
	}
}

func TestVersionConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		opt  ply.Option
		want error
	}{
		{"release of an absent version", ply.WithRelease("auth@3.0.0", ply.Release{State: ply.Beta}), ply.ErrNotRegistered},
		{"weights for one version", ply.WithWeights("solo", nil, map[string]int{"1.0.0": 1}), ply.ErrNotRegistered},
		{"weights for an absent version", ply.WithWeights("auth", nil, map[string]int{"3.0.0": 1}), ply.ErrVersionMismatch},
		{"header for an absent plugin", ply.WithVersionHeader(byVersion, "nope"), ply.ErrNotRegistered},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ply.New(append(authVersions(), &tstamp{name: "solo", version: "1.0.0"}), ply.WithLogger(discard), ply.WithModules(echo()), tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			err = h.Start(t.Context())
			if !errors.Is(err, tt.want) {
				_ = h.Stop(t.Context())
				t.Errorf("Start error = %v, want one matching %v", err, tt.want)
			}
		})
	}
}

func TestExplainTenant(t *testing.T) {
	h, _ := startTenants(t, authVersions(),
		ply.WithTenants(byTenant, ply.Tenant{Name: "canary"}, ply.Tenant{Name: "old", Plugins: map[string]ply.TenantPlugin{"auth": {Version: "1.4.0"}}}),
		ply.WithWeights("auth", byUser, map[string]int{"1.4.0": 90, "2.0.0": 10}),
		ply.WithRelease("auth@1.4.0", ply.Release{State: ply.Deprecated}))
	for _, tt := range []struct{ tenant, want string }{
		{"canary", `chain of m/h for tenant "canary":
  1. auth@1.4.0  security 100
versions:
  auth@1.4.0  weight (1.4.0: 90, 2.0.0: 10) deprecated
`},
		{"old", `chain of m/h for tenant "old":
  1. auth@1.4.0  security 100
versions:
  auth@1.4.0  pin deprecated
`},
	} {
		x, err := h.ExplainTenant(t.Context(), tt.tenant, "m", "h")
		if err != nil {
			t.Fatalf("ExplainTenant(%s): %v", tt.tenant, err)
		}
		if diff := cmp.Diff(tt.want, x.String()); diff != "" {
			t.Errorf("tenant %s (-want +got):\n%s", tt.tenant, diff)
		}
	}
	if _, err := h.ExplainTenant(t.Context(), "nobody", "m", "h"); !errors.Is(err, ply.ErrUnknownTenant) {
		t.Errorf("ExplainTenant of an unknown tenant: %v, want ErrUnknownTenant", err)
	}
}

func TestPlanTenant(t *testing.T) {
	h, err := ply.New(append(authVersions(), &tstamp{name: "log", version: "1.0.0", prio: ply.Logging}),
		ply.WithLogger(discard), ply.WithModules(echo()),
		ply.WithTenants(byTenant,
			ply.Tenant{Name: "flipped", Plugins: map[string]ply.TenantPlugin{"log": {Priority: intp(ply.System)}, "auth": {Version: "1.4.0"}}},
			ply.Tenant{Name: "quiet", Plugins: map[string]ply.TenantPlugin{"log": {Disabled: true}}}))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := h.Plan()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ tenant, want string }{
		{"flipped", `chain order for tenant "flipped":
  1. log@1.0.0   system 50
  2. auth@1.4.0  security 100     priority 50 (system) < 100 (security)
versions:
  auth@1.4.0  pin
`},
		{"quiet", `chain order for tenant "quiet":
  1. auth@2.0.0  security 100
versions:
  auth@2.0.0  default
`},
	} {
		x, err := plan.Tenant(tt.tenant)
		if err != nil {
			t.Fatalf("Plan.Tenant(%s): %v", tt.tenant, err)
		}
		if diff := cmp.Diff(tt.want, x.String()); diff != "" {
			t.Errorf("tenant %s (-want +got):\n%s", tt.tenant, diff)
		}
	}
	if _, err := plan.Tenant("nobody"); !errors.Is(err, ply.ErrUnknownTenant) {
		t.Errorf("Plan.Tenant of an unknown tenant: %v, want ErrUnknownTenant", err)
	}
}
