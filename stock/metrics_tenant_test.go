package stock_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/plykit/ply"
	"github.com/plykit/ply/plytest"
	"github.com/plykit/ply/stock"
)

// TestMetricsTenantLabel serves five tenants with different traffic on a
// host whose metrics label two tenants: the layer calls of the two
// busiest carry their names, the rest count as "other", and no tenant's
// calls are counted under another's name.
func TestMetricsTenantLabel(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	layer := ply.Func{Meta: ply.Info{Name: "work", Version: "1.0.0"}, OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
		return ply.Wrap{Layer: func(ctx context.Context, _ *ply.Call, next ply.Next) error { return next.Run(ctx) }}, nil
	}}
	var tenants []ply.Tenant
	for i := range 5 {
		tenants = append(tenants, ply.Tenant{Name: fmt.Sprint("t", i)})
	}
	byReq := func(_ context.Context, req any) (string, error) { return req.(string), nil }
	h := plytest.New(t, []ply.Plugin{stock.NewMetrics(stock.MetricsOptions{MeterProvider: mp, TenantLabels: 2}), layer},
		ply.WithLogger(slog.New(slog.DiscardHandler)), ply.WithTenants(byReq, tenants...),
		ply.WithModules(ply.Module{Name: "m", Handlers: []ply.Handler{{Kind: "test", Name: "h", Func: func(context.Context, *ply.Call) error { return nil }}}}))
	ch, err := h.Chain("m", "h")
	if err != nil {
		t.Fatal(err)
	}
	// t4 first, then the others, busier the higher their number but t4:
	// the ranking after 4096 calls moves the label from t4 (early, but
	// quiet) to the busiest.
	sent := map[string]int64{"t4": 1}
	if _, err := ch.Serve(t.Context(), "t4", nil); err != nil {
		t.Fatal(err)
	}
	for i, n := range []int64{100, 300, 3000, 5000} {
		tenant := fmt.Sprint("t", i)
		for range n {
			if _, err := ch.Serve(t.Context(), tenant, nil); err != nil {
				t.Fatal(err)
			}
		}
		sent[tenant] += n
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if d, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "ply.layer.calls" {
				for _, p := range d.DataPoints {
					if plugin, _ := p.Attributes.Value("plugin"); plugin.AsString() != "work" {
						continue
					}
					tenant, _ := p.Attributes.Value("tenant")
					got[tenant.AsString()] += p.Value
				}
			}
		}
	}
	var total int64
	for _, n := range got {
		total += n
	}
	if total != 8401 {
		t.Errorf("layer calls counted %d, want 8401", total)
	}
	// Labelled tenants never count more than their own calls.
	for tenant, n := range got {
		if tenant != stock.OtherTenants && n > sent[tenant] {
			t.Errorf("tenant %s counted %d calls, but sent %d", tenant, n, sent[tenant])
		}
	}
	for tenant := range got {
		if tenant != "t3" && tenant != "t2" && tenant != stock.OtherTenants {
			t.Errorf("tenant %s has a label, but is not among the two busiest: %v", tenant, got)
		}
	}
	if got["t3"] < 4000 {
		t.Errorf("the busiest tenant, t3, counted %d calls under its name: %v", got["t3"], got)
	}
}
