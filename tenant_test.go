package ply_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply"
)

// treq is a test call: the tenant and user it is for, and what the layers
// that ran on it wrote.
type treq struct {
	tenant, user, version string
	seen                  []string
}

func byTenant(_ context.Context, req any) (string, error) { return req.(*treq).tenant, nil }
func byUser(_ context.Context, req any) (string, error)   { return req.(*treq).user, nil }
func byVersion(_ context.Context, req any) (string, error) {
	return req.(*treq).version, nil
}

type tstampOpts struct {
	Tag   string `json:"tag"`
	Limit int    `json:"limit" jsonschema:"minimum=0"`
}

var tstampSerial atomic.Int64

// tstamp is a configurable plugin whose layer writes its name, version,
// options and instance number into the call.
type tstamp struct {
	name, version string
	prio          int
	requires      []ply.Dependency
	opts          tstampOpts
	inst          int64
	running       *atomic.Int64 // started and not stopped instances, if set
}

func (s *tstamp) Info() ply.Info {
	return ply.Info{Name: s.name, Version: s.version, Priority: s.prio, Requires: s.requires}
}
func (s *tstamp) Options() any { return &s.opts }
func (s *tstamp) Provision(context.Context, *ply.Setup) error {
	s.inst = tstampSerial.Add(1)
	return nil
}

func (s *tstamp) Start(context.Context) error {
	if s.running != nil {
		s.running.Add(1)
	}
	return nil
}

func (s *tstamp) Stop(context.Context) error {
	if s.running != nil {
		s.running.Add(-1)
	}
	return nil
}

func (s *tstamp) Wrap(context.Context, ply.Target) (ply.Wrap, error) {
	return ply.Wrap{Layer: func(ctx context.Context, c *ply.Call, next ply.Next) error {
		r := c.Request().(*treq)
		r.seen = append(r.seen, fmt.Sprintf("%s@%s tag=%s limit=%d", s.name, s.version, s.opts.Tag, s.opts.Limit))
		return next.Run(ctx)
	}}, nil
}

func renewTstamp(old ply.Plugin) ply.Plugin {
	if pr, ok := old.(*tenantProbe); ok {
		return &tenantProbe{name: pr.name, prio: pr.prio, opts: pr.opts}
	}
	o := old.(*tstamp)
	return &tstamp{name: o.name, version: o.version, prio: o.prio, requires: o.requires, opts: o.opts, running: o.running}
}

func raw(yaml string) *ply.RawOptions {
	return &ply.RawOptions{File: "tenants.yaml", Data: []byte(yaml)}
}

func intp(i int) *int { return &i }

// echo is a module whose handler records the call's tenant.
func echo() ply.Module {
	return ply.Module{Name: "m", Handlers: []ply.Handler{{Kind: "test", Name: "h", Func: func(ctx context.Context, c *ply.Call) error {
		r := c.Request().(*treq)
		fromCtx, _ := ply.TenantOf(ctx)
		fromCall, _ := c.Tenant()
		r.seen = append(r.seen, "handler tenant="+fromCtx+"/"+fromCall)
		c.SetResponse(r.seen)
		return nil
	}}}}
}

func startTenants(t *testing.T, ps []ply.Plugin, opts ...ply.Option) (*ply.Host, *ply.Chain) {
	t.Helper()
	h, err := ply.New(ps, append([]ply.Option{ply.WithLogger(discard), ply.WithModules(echo()), ply.WithRenew(renewTstamp)}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := h.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := h.Stop(context.WithoutCancel(t.Context())); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	ch, err := h.Chain("m", "h")
	if err != nil {
		t.Fatal(err)
	}
	return h, ch
}

func call(ctx context.Context, ch *ply.Chain, r *treq) ([]string, error) {
	out, err := ch.Serve(ctx, r, nil)
	seen, _ := out.([]string)
	return seen, err
}

func TestTenantChains(t *testing.T) {
	ps := []ply.Plugin{
		&tstamp{name: "auth", version: "1.0.0", prio: ply.Security, opts: tstampOpts{Tag: "base", Limit: 5}},
		&tstamp{name: "limit", version: "1.0.0", prio: ply.Performance, opts: tstampOpts{Tag: "base", Limit: 10}},
	}
	_, ch := startTenants(t, ps, ply.WithTenants(byTenant,
		ply.Tenant{Name: "plain"},
		ply.Tenant{Name: "nolimit", Plugins: map[string]ply.TenantPlugin{"limit": {Disabled: true}}},
		ply.Tenant{Name: "gold", Plugins: map[string]ply.TenantPlugin{"limit": {Options: raw("limit: 100")}}},
		ply.Tenant{Name: "same", Plugins: map[string]ply.TenantPlugin{"limit": {Options: raw("limit: 10")}}},
		ply.Tenant{Name: "flipped", Plugins: map[string]ply.TenantPlugin{"limit": {Priority: intp(ply.System)}}},
	))
	for _, tt := range []struct {
		tenant string
		want   []string
	}{
		{"plain", []string{"auth@1.0.0 tag=base limit=5", "limit@1.0.0 tag=base limit=10", "handler tenant=plain/plain"}},
		{"nolimit", []string{"auth@1.0.0 tag=base limit=5", "handler tenant=nolimit/nolimit"}},
		{"gold", []string{"auth@1.0.0 tag=base limit=5", "limit@1.0.0 tag=base limit=100", "handler tenant=gold/gold"}},
		{"same", []string{"auth@1.0.0 tag=base limit=5", "limit@1.0.0 tag=base limit=10", "handler tenant=same/same"}},
		{"flipped", []string{"limit@1.0.0 tag=base limit=10", "auth@1.0.0 tag=base limit=5", "handler tenant=flipped/flipped"}},
	} {
		t.Run(tt.tenant, func(t *testing.T) {
			for range 2 { // the first call compiles the tenant's chain, the second reuses it
				got, err := call(t.Context(), ch, &treq{tenant: tt.tenant})
				if err != nil {
					t.Fatalf("Serve: %v", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("layers (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestTenantInstances checks that a tenant gets its own instance only
// where its options differ, and that the host's stays untouched.
func TestTenantInstances(t *testing.T) {
	running := new(atomic.Int64)
	ps := []ply.Plugin{
		&tstamp{name: "auth", version: "1.0.0", running: running},
		&tstamp{name: "limit", version: "1.0.0", running: running, requires: []ply.Dependency{{Name: "auth"}}},
		&tstamp{name: "log", version: "1.0.0", running: running},
	}
	h, _ := startTenants(t, ps, ply.WithTenants(byTenant,
		ply.Tenant{Name: "a"},
		ply.Tenant{Name: "b", Plugins: map[string]ply.TenantPlugin{"auth": {Options: raw("tag: b")}}},
		ply.Tenant{Name: "c", Plugins: map[string]ply.TenantPlugin{"log": {Options: raw("tag: ''")}}}, // the same as the host's
	))
	// b has its own auth, and its own limit, which requires auth; c shares all.
	if got := running.Load(); got != 5 {
		t.Errorf("running instances = %d, want 5 (3 of the host's, auth and limit of tenant b)", got)
	}
	var health []string
	for _, s := range h.Health(t.Context()) {
		health = append(health, fmt.Sprintf("%s %s %s", s.Name, s.State, s.Tenant))
	}
	if diff := cmp.Diff([]string{"auth ok ", "limit ok ", "log ok ", "auth ok b", "limit ok b"}, health); diff != "" {
		t.Errorf("Health (-want +got):\n%s", diff)
	}
	if err := h.RemoveTenant(t.Context(), "b"); err != nil {
		t.Fatalf("RemoveTenant: %v", err)
	}
	if got := running.Load(); got != 3 {
		t.Errorf("running instances after removing b = %d, want 3", got)
	}
}

func TestUnknownTenant(t *testing.T) {
	for _, tt := range []struct {
		name   string
		opts   []ply.Option
		tenant string
		status int
	}{
		{name: "404 by default", tenant: "nobody", status: 404},
		{name: "403 by option", opts: []ply.Option{ply.WithUnknownTenant(403)}, tenant: "nobody", status: 403},
		{name: "empty tenant", tenant: "", status: 404},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ran := false
			ps := []ply.Plugin{ply.Func{Meta: ply.Info{Name: "spy", Version: "1.0.0"}, OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
				return ply.Wrap{Layer: func(ctx context.Context, _ *ply.Call, next ply.Next) error {
					ran = true
					return next.Run(ctx)
				}}, nil
			}}}
			_, ch := startTenants(t, ps, append(tt.opts, ply.WithTenants(byTenant, ply.Tenant{Name: "acme"}))...)
			_, err := call(t.Context(), ch, &treq{tenant: tt.tenant})
			te, ok := errors.AsType[*ply.TenantError](err)
			if !ok || !errors.Is(err, ply.ErrUnknownTenant) {
				t.Fatalf("Serve error = %v, want a *TenantError matching ErrUnknownTenant", err)
			}
			if te.StatusCode() != tt.status || te.Tenant != tt.tenant {
				t.Errorf("TenantError = %+v, want tenant %q status %d", te, tt.tenant, tt.status)
			}
			if ran {
				t.Error("a layer ran for an unknown tenant")
			}
		})
	}
}

func TestTenantSelectorError(t *testing.T) {
	bad := errors.New("no tenant header")
	_, ch := startTenants(t, nil, ply.WithTenants(func(context.Context, any) (string, error) { return "", bad }, ply.Tenant{Name: ""}))
	_, err := call(t.Context(), ch, &treq{})
	if !errors.Is(err, bad) || !errors.Is(err, ply.ErrUnknownTenant) {
		t.Errorf("Serve error = %v, want one matching the selector's error and ErrUnknownTenant", err)
	}
}

func TestTenantConfigErrors(t *testing.T) {
	ps := []ply.Plugin{&tstamp{name: "auth", version: "1.0.0"}}
	for _, tt := range []struct {
		name    string
		tenant  ply.Tenant
		renew   bool
		want    error
		message string
	}{
		{name: "unknown plugin", tenant: ply.Tenant{Name: "a", Plugins: map[string]ply.TenantPlugin{"nope": {Disabled: true}}},
			want: ply.ErrNotRegistered, message: `tenant "a": plugin "nope"`},
		{name: "pin of an absent version", tenant: ply.Tenant{Name: "a", Plugins: map[string]ply.TenantPlugin{"auth": {Version: "9.0.0"}}},
			want: ply.ErrVersionMismatch, message: `version "9.0.0" is pinned`},
		{name: "options without renew", tenant: ply.Tenant{Name: "a", Plugins: map[string]ply.TenantPlugin{"auth": {Options: raw("tag: x")}}},
			want: ply.ErrReloadUnsupported, message: "ply.WithRenew"},
		{name: "bad options", renew: true, tenant: ply.Tenant{Name: "a", Plugins: map[string]ply.TenantPlugin{"auth": {Options: raw("limit: -1")}}},
			message: "limit"},
		{name: "unknown option", renew: true, tenant: ply.Tenant{Name: "a", Plugins: map[string]ply.TenantPlugin{"auth": {Options: raw("tga: x")}}},
			message: "tga"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := []ply.Option{ply.WithLogger(discard), ply.WithModules(echo()), ply.WithTenants(byTenant, tt.tenant)}
			if tt.renew {
				opts = append(opts, ply.WithRenew(renewTstamp))
			}
			h, err := ply.New(ps, opts...)
			if err != nil {
				t.Fatal(err)
			}
			err = h.Start(t.Context())
			if err == nil {
				_ = h.Stop(t.Context())
				t.Fatal("Start succeeded, want an error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Start error = %v, want one matching %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("Start error = %v, want it to say %q", err, tt.message)
			}
		})
	}
}

// TestSetTenantUnderLoad changes, adds and removes tenants while calls run:
// no call of a tenant that exists fails.
func TestSetTenantUnderLoad(t *testing.T) {
	running := new(atomic.Int64)
	ps := []ply.Plugin{&tstamp{name: "limit", version: "1.0.0", running: running}}
	h, ch := startTenants(t, ps, ply.WithTenants(byTenant, ply.Tenant{Name: "a"}, ply.Tenant{Name: "b"}))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var failed atomic.Int64
	var calls [2]atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			tenant := []string{"a", "b"}[w%2]
			for {
				select {
				case <-stop:
					return
				default:
				}
				seen, err := call(context.Background(), ch, &treq{tenant: tenant})
				if err != nil || len(seen) != 2 {
					failed.Add(1)
				}
				calls[w%2].Add(1)
			}
		})
	}
	for i := range 50 {
		tn := ply.Tenant{Name: "a", Plugins: map[string]ply.TenantPlugin{"limit": {Options: raw(fmt.Sprintf("limit: %d", i+1))}}}
		if err := h.SetTenant(t.Context(), tn); err != nil {
			t.Fatalf("SetTenant #%d: %v", i, err)
		}
		if err := h.SetTenant(t.Context(), ply.Tenant{Name: "c"}); err != nil {
			t.Fatalf("SetTenant c: %v", err)
		}
		if err := h.RemoveTenant(t.Context(), "c"); err != nil {
			t.Fatalf("RemoveTenant c: %v", err)
		}
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Errorf("%d of %d calls failed during tenant reloads", failed.Load(), calls[0].Load()+calls[1].Load())
	}
	if got := running.Load(); got != 2 {
		t.Errorf("running instances = %d, want 2: the host's and tenant a's latest", got)
	}
	got, err := call(t.Context(), ch, &treq{tenant: "a"})
	if err != nil || got[0] != "limit@1.0.0 tag= limit=50" {
		t.Errorf("tenant a after the reloads: %v, %v; want its last options", got, err)
	}
	if _, err := call(t.Context(), ch, &treq{tenant: "c"}); !errors.Is(err, ply.ErrUnknownTenant) {
		t.Errorf("removed tenant c: error %v, want ErrUnknownTenant", err)
	}
	if diff := cmp.Diff([]string{"a", "b"}, h.Tenants()); diff != "" {
		t.Errorf("Tenants (-want +got):\n%s", diff)
	}
}

// countingHandler counts the log records at warn level, by message and
// tenant.
type countingHandler struct {
	mu    sync.Mutex
	warns map[string]int
}

func (c *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (c *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return nil
	}
	key := r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "tenant" || a.Key == "version" {
			key += " " + a.Key + "=" + a.Value.String()
		}
		return true
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	c.warns[key]++
	return nil
}
func (c *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *countingHandler) WithGroup(string) slog.Handler      { return c }

// TestReloadWithTenants reloads the host: the tenants' plugin sets are
// rebuilt on the new generation, the replaced instances (the host's and
// the tenants' own) are stopped, and the tenants serve with their options
// and the host's new ones.
func TestReloadWithTenants(t *testing.T) {
	running := new(atomic.Int64)
	auth := &tstamp{name: "auth", version: "1.0.0", running: running, opts: tstampOpts{Tag: "v1"}}
	limit := &tstamp{name: "limit", version: "1.0.0", running: running}
	tenants := ply.WithTenants(byTenant, ply.Tenant{Name: "a"},
		ply.Tenant{Name: "b", Plugins: map[string]ply.TenantPlugin{"limit": {Options: raw("limit: 7")}}})
	h, ch := startTenants(t, []ply.Plugin{auth, limit}, tenants)
	if got := running.Load(); got != 3 {
		t.Fatalf("running = %d, want 3 (auth, limit, b's limit)", got)
	}
	auth2 := &tstamp{name: "auth", version: "1.0.0", running: running, opts: tstampOpts{Tag: "v2"}}
	if _, err := h.Reload(t.Context(), ply.Change{Plugins: []ply.Plugin{auth2, limit},
		Options: []ply.Option{ply.WithLogger(discard), ply.WithModules(echo()), ply.WithRenew(renewTstamp), tenants}}); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if got := running.Load(); got != 3 {
		t.Errorf("running after the reload = %d, want 3: the replaced auth and b's old limit stopped", got)
	}
	for tenant, want := range map[string][]string{
		"a": {"auth@1.0.0 tag=v2 limit=0", "limit@1.0.0 tag= limit=0", "handler tenant=a/a"},
		"b": {"auth@1.0.0 tag=v2 limit=0", "limit@1.0.0 tag= limit=7", "handler tenant=b/b"},
	} {
		got, err := call(t.Context(), ch, &treq{tenant: tenant})
		if err != nil {
			t.Fatalf("tenant %s: %v", tenant, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("tenant %s after the reload (-want +got):\n%s", tenant, diff)
		}
	}
}

// tcounter counts its calls, and hands the count over in a reload.
type tcounter struct {
	opts tstampOpts
	n    atomic.Int64
}

func (c *tcounter) Info() ply.Info { return ply.Info{Name: "counter", Version: "1.0.0"} }
func (c *tcounter) Options() any   { return &c.opts }
func (c *tcounter) ExportState(context.Context) (any, error) {
	return c.n.Load(), nil
}

func (c *tcounter) ImportState(_ context.Context, state any, _ ply.Info) error {
	c.n.Store(state.(int64))
	return nil
}

func (c *tcounter) Wrap(context.Context, ply.Target) (ply.Wrap, error) {
	return ply.Wrap{Layer: func(ctx context.Context, call *ply.Call, next ply.Next) error {
		r := call.Request().(*treq)
		r.seen = append(r.seen, fmt.Sprintf("counter tag=%s n=%d", c.opts.Tag, c.n.Add(1)))
		return next.Run(ctx)
	}}, nil
}

// TestSetTenantHandsStateOver changes a tenant's options: its new instance
// of the plugin takes over the old one's state.
func TestSetTenantHandsStateOver(t *testing.T) {
	tenant := func(tag string) ply.Tenant {
		return ply.Tenant{Name: "a", Plugins: map[string]ply.TenantPlugin{"counter": {Options: raw("tag: " + tag)}}}
	}
	h, ch := startTenants(t, []ply.Plugin{&tcounter{}}, ply.WithTenants(byTenant, tenant("one")),
		ply.WithRenew(func(ply.Plugin) ply.Plugin { return &tcounter{} }))
	for range 3 {
		if _, err := call(t.Context(), ch, &treq{tenant: "a"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.SetTenant(t.Context(), tenant("two")); err != nil {
		t.Fatal(err)
	}
	got, err := call(t.Context(), ch, &treq{tenant: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != "counter tag=two n=4" {
		t.Errorf("after SetTenant: %q, want the new instance to count on from 3", got[0])
	}
}

// TestTenantLazyPlugin serves a tenant whose chain has a lazy plugin: its
// first call loads it, once, and the layer runs for the tenant and for the
// host's chain alike.
func TestTenantLazyPlugin(t *testing.T) {
	var loads atomic.Int64
	lazy := ply.Func{Meta: ply.Info{Name: "lazy", Version: "1.0.0", Lazy: true},
		OnProvision: func(context.Context, *ply.Setup) error { loads.Add(1); return nil },
		OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
			return ply.Wrap{Layer: func(ctx context.Context, c *ply.Call, next ply.Next) error {
				r := c.Request().(*treq)
				r.seen = append(r.seen, "lazy")
				return next.Run(ctx)
			}}, nil
		}}
	_, ch := startTenants(t, []ply.Plugin{lazy, &tstamp{name: "log", version: "1.0.0"}},
		ply.WithTenants(byTenant, ply.Tenant{Name: "plain"}, ply.Tenant{Name: "quiet", Plugins: map[string]ply.TenantPlugin{"log": {Disabled: true}}}))
	for _, tt := range []struct {
		tenant string
		want   []string
	}{
		{"quiet", []string{"lazy", "handler tenant=quiet/quiet"}},
		{"plain", []string{"lazy", "log@1.0.0 tag= limit=0", "handler tenant=plain/plain"}},
	} {
		got, err := call(t.Context(), ch, &treq{tenant: tt.tenant})
		if err != nil {
			t.Fatalf("tenant %s: %v", tt.tenant, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("tenant %s (-want +got):\n%s", tt.tenant, diff)
		}
	}
	if n := loads.Load(); n != 1 {
		t.Errorf("the lazy plugin was provisioned %d times, want 1", n)
	}
}
