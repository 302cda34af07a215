package ply_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/plykit/ply"
	"github.com/plykit/ply/tenant"
)

// manyTenants returns n tenants without overrides, "t-0" to "t-<n-1>".
func manyTenants(n int) []ply.Tenant {
	ts := make([]ply.Tenant, n)
	for i := range ts {
		ts[i] = ply.Tenant{Name: fmt.Sprint("t-", i)}
	}
	return ts
}

// BenchmarkTenantDispatch calls a chain of 5 layers with an HTTP request,
// as httpserver does: on a single-tenant host (impl=single), and on a host
// with 10,000 tenants that reads the tenant from a header
// (impl=tenants), for a tenant without overrides (the host's chain) and
// for one with its own plugin set (own: one plugin disabled). The
// difference per call is what tenant dispatch costs.
func BenchmarkTenantDispatch(b *testing.B) {
	ctx := context.Background()
	tenants := append(manyTenants(10_000), ply.Tenant{Name: "own", Plugins: map[string]ply.TenantPlugin{"l04": {Disabled: true}}})
	for _, v := range []struct {
		impl, tenant string
		opts         []ply.Option
	}{
		{impl: "single"},
		{impl: "tenants", tenant: "t-5000", opts: []ply.Option{ply.WithTenants(tenant.Header("X-Tenant"), tenants...)}},
		{impl: "tenants+own", tenant: "own", opts: []ply.Option{ply.WithTenants(tenant.Header("X-Tenant"), tenants...)}},
	} {
		b.Run("impl="+v.impl, func(b *testing.B) {
			ch := mount(b, plyLayers(5), benchHandler, append(v.opts, ply.WithLogger(discard))...)
			r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
			r.Header.Set("X-Tenant", v.tenant)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ch.Serve(ctx, r, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTenantStart starts (and stops) a host of 20 plugins and 100
// handlers: alone (impl=single), and with 10,000 tenants without
// overrides (impl=tenants). It reports the heap the host holds once
// started, and for impl=tenants the bytes each tenant adds over
// impl=single (measured in the same run).
func BenchmarkTenantStart(b *testing.B) {
	const n = 10_000
	handlers := make([]ply.Handler, 100)
	for i := range handlers {
		handlers[i] = ply.Handler{Kind: "test", Name: fmt.Sprint("h", i), Func: benchHandler}
	}
	var single float64
	for _, v := range []struct {
		impl string
		opts []ply.Option
	}{
		{impl: "single"},
		{impl: "tenants", opts: []ply.Option{ply.WithTenants(tenant.Header("X-Tenant"), manyTenants(n)...)}},
	} {
		b.Run("impl="+v.impl, func(b *testing.B) {
			var held float64
			for b.Loop() {
				b.StopTimer()
				before := heap()
				h, err := ply.New(plyLayers(20), append(v.opts, ply.WithLogger(discard),
					ply.WithModules(ply.Module{Name: "m", Handlers: handlers}))...)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if err := h.Start(context.Background()); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				held = float64(heap() - before)
				runtime.KeepAlive(h)
				if err := h.Stop(context.Background()); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(held, "heap-B")
			if v.impl == "single" {
				single = held
			} else if single > 0 {
				b.ReportMetric((held-single)/n, "B/tenant")
			}
		})
	}
}

// heap returns the bytes of live heap objects after a full collection.
func heap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc) //nolint:gosec // a heap is far below 2^63 bytes
}

// TestTenantStartBudget starts a host with 10,000 tenants without
// overrides: within a second, and within 2 KiB per tenant over the same
// host without tenants.
func TestTenantStartBudget(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("a budget of time and memory: not under -race or -short")
	}
	const n = 10_000
	measure := func(opts ...ply.Option) (time.Duration, int64) {
		before := heap()
		h, err := ply.New(plyLayers(20), append(opts, ply.WithLogger(discard), ply.WithModules(echo()))...)
		if err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		if err := h.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		took := time.Since(began)
		held := heap() - before
		runtime.KeepAlive(h)
		if err := h.Stop(t.Context()); err != nil {
			t.Fatal(err)
		}
		return took, held
	}
	_, single := measure()
	took, held := measure(ply.WithTenants(byTenant, manyTenants(n)...))
	perTenant := (float64(held) - float64(single)) / n
	t.Logf("10,000 tenants: start %v, %.0f B per tenant", took, perTenant)
	if took > time.Second {
		t.Errorf("start with 10,000 tenants took %v, want <= 1s", took)
	}
	if perTenant > 2048 {
		t.Errorf("%.0f B per tenant, want <= 2 KiB", perTenant)
	}
}
