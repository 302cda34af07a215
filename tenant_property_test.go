package ply_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply"
)

// sampleLog is a LayerObserver that keeps every sample's tenant and
// plugin.
type sampleLog struct {
	mu      sync.Mutex
	samples []string
}

func (s *sampleLog) Info() ply.Info                   { return ply.Info{Name: "samples", Version: "1.0.0"} }
func (s *sampleLog) PrepareLayer(ply.LayerSample) any { return true }
func (s *sampleLog) ObserveLayer(x ply.LayerSample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples = append(s.samples, x.Tenant+" "+x.Plugin)
}

func (s *sampleLog) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.samples
	s.samples = nil
	return out
}

// TestTenantIsolationProperty builds hosts with random tenant
// configurations and sends them random calls. For each call of tenant A:
// the layers that run are exactly A's plugin set, in A's order; an
// instance with options of its own is A's (its tag names A, never B);
// every layer sees A as the call's tenant; and every metrics sample of the
// call is labelled A.
func TestTenantIsolationProperty(t *testing.T) {
	for seed := range uint64(40) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 15)) //nolint:gosec // a seeded, reproducible test: not for secrets
			nplug := 2 + rng.IntN(5)
			var ps []ply.Plugin
			prio := make(map[string]int)
			var names []string
			for i := range nplug {
				name := fmt.Sprint("p", i)
				names = append(names, name)
				prio[name] = 100 * (1 + rng.IntN(4))
				ps = append(ps, &tenantProbe{name: name, prio: prio[name], opts: tstampOpts{Tag: "host"}})
			}
			log := &sampleLog{}
			ps = append(ps, log)

			type want struct {
				chain []string // "plugin tag" in order
			}
			tenants := make([]ply.Tenant, 2+rng.IntN(6))
			wants := make(map[string]want)
			for ti := range tenants {
				tname := fmt.Sprint("t", ti)
				tn := ply.Tenant{Name: tname, Plugins: map[string]ply.TenantPlugin{}}
				eff := make(map[string]int)
				tags := make(map[string]string)
				var on []string
				for _, name := range names {
					eff[name], tags[name] = prio[name], "host"
					var tp ply.TenantPlugin
					switch rng.IntN(5) {
					case 0:
						tp.Disabled = true
					case 1:
						tp.Options = raw("tag: " + tname)
						tags[name] = tname
					case 2:
						p := 100 * (1 + rng.IntN(4))
						tp.Priority, eff[name] = &p, p
					}
					if tp != (ply.TenantPlugin{}) {
						tn.Plugins[name] = tp
					}
					if !tp.Disabled {
						on = append(on, name)
					}
				}
				slices.SortStableFunc(on, func(a, b string) int { return eff[a] - eff[b] })
				var chain []string
				for _, name := range on {
					chain = append(chain, name+" "+tags[name]+" "+tname)
				}
				tenants[ti] = tn
				wants[tname] = want{chain: chain}
			}
			_, ch := startTenants(t, ps, ply.WithTenants(byTenant, tenants...))
			for range 200 {
				tname := tenants[rng.IntN(len(tenants))].Name
				got, err := call(t.Context(), ch, &treq{tenant: tname})
				if err != nil {
					t.Fatalf("tenant %s: %v", tname, err)
				}
				w := append(slices.Clone(wants[tname].chain), "handler tenant="+tname+"/"+tname)
				if diff := cmp.Diff(w, got); diff != "" {
					t.Fatalf("tenant %s: layers (-want +got):\n%s", tname, diff)
				}
				samples := log.take()
				if len(samples) != len(wants[tname].chain) {
					t.Fatalf("tenant %s: %d metrics samples %v, want one per layer (%d)", tname, len(samples), samples, len(wants[tname].chain))
				}
				for _, s := range samples {
					if !strings.HasPrefix(s, tname+" ") {
						t.Fatalf("tenant %s: a metrics sample %q names another tenant", tname, s)
					}
				}
			}
		})
	}
}

// tenantProbe is a configurable plugin whose layer writes its name, its
// options' tag and the tenant the call's context names.
type tenantProbe struct {
	name string
	prio int
	opts tstampOpts
}

func (p *tenantProbe) Info() ply.Info {
	return ply.Info{Name: p.name, Version: "1.0.0", Priority: p.prio}
}
func (p *tenantProbe) Options() any { return &p.opts }
func (p *tenantProbe) Wrap(context.Context, ply.Target) (ply.Wrap, error) {
	return ply.Wrap{Layer: func(ctx context.Context, c *ply.Call, next ply.Next) error {
		tenant, _ := ply.TenantOf(ctx)
		r := c.Request().(*treq)
		r.seen = append(r.seen, p.name+" "+p.opts.Tag+" "+tenant)
		return next.Run(ctx)
	}}, nil
}
