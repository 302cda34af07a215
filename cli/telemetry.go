package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/plykit/ply"
	"github.com/plykit/ply/stock"
)

// telemetry is the OpenTelemetry SDK that ply run wires, as OpenTelemetry
// advises (libraries use the API; the program installs the SDK): a
// MeterProvider read by a Prometheus exporter on a registry of its own,
// whose handler the metrics plugin serves, and a TracerProvider that
// writes every ended span to the command's standard output as JSON.
// install makes them the global providers, with the W3C TraceContext and
// Baggage propagator, so the stock plugins, any other plugin and the event
// bus (whose messages carry the trace context) use them.
type telemetry struct {
	mp      *sdkmetric.MeterProvider
	tp      *sdktrace.TracerProvider
	metrics http.Handler // the registry's Prometheus endpoint
}

func newTelemetry(stdout io.Writer) (*telemetry, error) {
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	spans, err := stdouttrace.New(stdouttrace.WithWriter(stdout))
	if err != nil {
		return nil, fmt.Errorf("stdout trace exporter: %w", err)
	}
	return &telemetry{
		mp:      sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter)),
		tp:      sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans)),
		metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
	}, nil
}

// install sets the global providers and propagator.
func (t *telemetry) install() {
	otel.SetMeterProvider(t.mp)
	otel.SetTracerProvider(t.tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
}

// newMetrics returns the stock metrics plugin with the SDK's provider and
// the Prometheus endpoint, which it serves on its path.
func (t *telemetry) newMetrics() ply.Plugin {
	return stock.NewMetrics(stock.MetricsOptions{MeterProvider: t.mp, Handler: t.metrics})
}

// newTracing returns the stock tracing plugin with the SDK's provider.
func (t *telemetry) newTracing() ply.Plugin {
	return stock.NewTracing(stock.TracingOptions{TracerProvider: t.tp,
		Propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})})
}

// shutdown flushes and stops both providers, after the host stopped.
func (t *telemetry) shutdown(ctx context.Context) error {
	return errors.Join(t.tp.Shutdown(ctx), t.mp.Shutdown(ctx))
}
