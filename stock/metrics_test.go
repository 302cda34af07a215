package stock_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/plykit/ply"
	"github.com/plykit/ply/plytest"
	"github.com/plykit/ply/stock"
)

// withPrometheus returns opts with what a program wires for the metrics
// plugin: an SDK MeterProvider whose reader is a Prometheus exporter on a
// registry of its own, and that registry's handler. The provider is shut
// down when the test ends, after the host (cleanups run last in, first out).
func withPrometheus(tb testing.TB, opts stock.MetricsOptions) stock.MetricsOptions {
	tb.Helper()
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		tb.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	tb.Cleanup(func() {
		if err := mp.Shutdown(context.Background()); err != nil {
			tb.Error(err)
		}
	})
	opts.MeterProvider = mp
	opts.Handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return opts
}

// The library builds no OpenTelemetry SDK and no exporter: the program
// that wires ply does (OpenTelemetry's advice for libraries).
func TestStockDependsOnTheAPIOnly(t *testing.T) {
	out, err := exec.CommandContext(t.Context(), "go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for dep := range strings.Lines(string(out)) {
		dep = strings.TrimSpace(dep)
		for _, banned := range []string{
			"go.opentelemetry.io/otel/sdk",
			"go.opentelemetry.io/otel/exporters/",
			"github.com/prometheus/client_golang",
		} {
			if dep == banned || strings.HasPrefix(dep, strings.TrimSuffix(banned, "/")+"/") {
				t.Errorf("stock depends on %s", dep)
			}
		}
	}
	if !strings.Contains(string(out), "go.opentelemetry.io/otel/metric\n") {
		t.Errorf("go list -deps has no go.opentelemetry.io/otel/metric; output:\n%s", out)
	}
}

// Without a handler the plugin records with its provider and serves no
// endpoint: none on the server, none under MetricsKey.
func TestMetricsWithoutHandler(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	h := serve(t, []ply.Plugin{stock.NewMetrics(stock.MetricsOptions{MeterProvider: mp})}, []ply.Handler{route("GET /hello", hello)})
	h.get(t, "/hello")
	if res, _ := h.get(t, "/metrics"); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics = %d, want 404", res.StatusCode)
	}
	if _, err := ply.Lookup(h, stock.MetricsKey); err == nil {
		t.Errorf("Lookup(%s) found an endpoint, want none", stock.MetricsKey)
	}
	if got := collected(t, reader); !strings.Contains(got, "http.server.request") {
		t.Errorf("metrics collected from the given provider = %s, want the request metrics", got)
	}
}

// With no provider in its options, the plugin records with the global one.
func TestMetricsUsesTheGlobalProvider(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	prev := otel.GetMeterProvider()
	otel.SetMeterProvider(mp)
	t.Cleanup(func() {
		otel.SetMeterProvider(prev)
		_ = mp.Shutdown(context.Background())
	})
	h := serve(t, []ply.Plugin{stock.NewMetrics(stock.MetricsOptions{})}, []ply.Handler{route("GET /hello", hello)})
	h.get(t, "/hello")
	if got := collected(t, reader); !strings.Contains(got, "ply.layer.calls") {
		t.Errorf("metrics collected from the global provider = %s, want the layer metrics", got)
	}
}

// With a provider and a propagator in its options, the plugin records a
// server span, a child of the request's traceparent.
func TestTracingWithProviders(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	h := serve(t, []ply.Plugin{stock.NewTracing(stock.TracingOptions{TracerProvider: tp, Propagator: propagation.TraceContext{}})},
		[]ply.Handler{route("GET /traced", hello)})
	h.do(t, http.MethodGet, "/traced", http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}})
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans ended, want 1", len(spans))
	}
	if got := spans[0].Parent().TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("span's parent trace id = %s, want the traceparent's", got)
	}
}

// collected returns the names of the instruments the reader collects.
func collected(t *testing.T, reader *sdkmetric.ManualReader) string {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			names = append(names, m.Name)
		}
	}
	return strings.Join(names, " ")
}

// The plugin counts reloads by outcome and records their duration.
func TestMetricsObservesReloads(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	metrics := stock.NewMetrics(stock.MetricsOptions{MeterProvider: mp})
	h := plytest.New(t, []ply.Plugin{metrics}, ply.WithLogger(slog.New(slog.DiscardHandler)))
	errBroken := errors.New("broken")
	for _, extra := range []ply.Plugin{
		ply.Func{Meta: ply.Info{Name: "extra", Version: "1.0.0"}}, // added: ok
		ply.Func{Meta: ply.Info{Name: "extra", Version: "1.0.0"}, // its replacement fails: failed
			OnProvision: func(context.Context, *ply.Setup) error { return errBroken }},
		ply.Func{Meta: ply.Info{Name: "extra", Version: "1.0.0"}}, // replaced: ok
	} {
		_, _ = h.Reload(t.Context(), ply.Change{Plugins: []ply.Plugin{metrics, extra}}) // the outcome is what the test reads
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	var durations uint64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				if m.Name != "ply.reloads" {
					continue
				}
				for _, p := range d.DataPoints {
					outcome, _ := p.Attributes.Value("outcome")
					counts[outcome.AsString()] += p.Value
				}
			case metricdata.Histogram[float64]:
				if m.Name != "ply.reload.duration" {
					continue
				}
				for _, p := range d.DataPoints {
					durations += p.Count
				}
			}
		}
	}
	if diff := cmp.Diff(map[string]int64{"ok": 2, "failed": 1}, counts); diff != "" {
		t.Errorf("ply.reloads by outcome (-want +got):\n%s", diff)
	}
	if durations != 3 {
		t.Errorf("ply.reload.duration recorded %d reloads, want 3", durations)
	}
}
