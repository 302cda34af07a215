package stock

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// DefaultTenantLabels is how many tenants get a tenant label of their own
// on the layer metrics unless [MetricsOptions.TenantLabels] says
// otherwise.
const DefaultTenantLabels = 20

// OtherTenants is the tenant label of the calls of the tenants outside the
// top N by traffic.
const OtherTenants = "other"

// tenantRank keeps the top N tenants by traffic, so that the tenant label
// of the layer metrics has at most N+1 values: a tenant is labelled by its
// name while it is among the N busiest (by calls counted so far), and as
// [OtherTenants] otherwise. A tenant's series stops growing once it drops
// out; its later calls count under "other".
type tenantRank struct {
	n      int
	calls  sync.Map // tenant -> *atomic.Int64
	top    atomic.Pointer[map[string]bool]
	ticks  atomic.Int64
	mu     sync.Mutex // recomputes top
	filled atomic.Bool
}

// rerankEvery is how many calls pass between two rankings.
const rerankEvery = 4096

func newTenantRank(n int) *tenantRank {
	r := &tenantRank{n: n}
	r.top.Store(&map[string]bool{})
	return r
}

// label counts a call of tenant and returns its label.
func (r *tenantRank) label(tenant string) string {
	c, ok := r.calls.Load(tenant)
	if !ok {
		c, _ = r.calls.LoadOrStore(tenant, new(atomic.Int64))
	}
	c.(*atomic.Int64).Add(1)
	if r.ticks.Add(1)%rerankEvery == 0 {
		r.rank()
	}
	if (*r.top.Load())[tenant] {
		return tenant
	}
	if !r.filled.Load() { // room left: a new tenant gets a label at once
		r.mu.Lock()
		defer r.mu.Unlock()
		top := *r.top.Load()
		if top[tenant] {
			return tenant
		}
		if len(top) < r.n {
			next := make(map[string]bool, len(top)+1)
			for t := range top {
				next[t] = true
			}
			next[tenant] = true
			r.top.Store(&next)
			r.filled.Store(len(next) >= r.n)
			return tenant
		}
	}
	return OtherTenants
}

// rank makes the N busiest tenants the labelled ones.
func (r *tenantRank) rank() {
	r.mu.Lock()
	defer r.mu.Unlock()
	type tc struct {
		t string
		n int64
	}
	var all []tc
	r.calls.Range(func(k, v any) bool {
		all = append(all, tc{k.(string), v.(*atomic.Int64).Load()})
		return true
	})
	slices.SortFunc(all, func(a, b tc) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.t, b.t)) })
	next := make(map[string]bool, r.n)
	for _, x := range all[:min(r.n, len(all))] {
		next[x.t] = true
	}
	r.top.Store(&next)
	r.filled.Store(len(next) >= r.n)
}

// forTenant returns the stats of layer l for the calls of tenant's label.
func (p *Metrics) forTenant(l *layerStats, tenant string) *layerStats {
	return p.statsOf(l, p.rank.label(tenant))
}

// statsOf returns the stats of layer l for tenant label.
func (p *Metrics) statsOf(l *layerStats, label string) *layerStats {
	if s, ok := l.tenants.Load(label); ok {
		return s.(*layerStats)
	}
	s := &layerStats{attrs: metric.WithAttributeSet(attribute.NewSet(append(l.labels, attribute.String("tenant", label))...))}
	got, _ := l.tenants.LoadOrStore(label, s)
	return got.(*layerStats)
}

// foldDemoted moves the counts of the tenants that dropped out of the top
// N into l's "other" stats, so that a collection exports at most N+1
// tenant series per layer. A demoted tenant's stats stay (a call may still
// be adding to them), emptied, and are not observed until it is back.
func (p *Metrics) foldDemoted(l *layerStats) {
	top := *p.rank.top.Load()
	l.tenants.Range(func(k, v any) bool {
		label, s := k.(string), v.(*layerStats)
		if label == OtherTenants || top[label] {
			return true
		}
		other := p.statsOf(l, OtherTenants)
		other.calls.Add(s.calls.Swap(0))
		other.errs.Add(s.errs.Swap(0))
		other.shorts.Add(s.shorts.Swap(0))
		other.selfNanos.Add(s.selfNanos.Swap(0))
		return true
	})
}

// tenantCount returns how many tenant labels l has stats for.
func (l *layerStats) tenantCount() int {
	n := 0
	l.tenants.Range(func(any, any) bool { n++; return true })
	return n
}
