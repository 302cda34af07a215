package stock

import (
	"context"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/middleware"
)

// MetricsKey is the typed API under which the metrics plugin provides its
// Prometheus handler ([Metrics.Handler]), for the plugin that serves it.
var MetricsKey = ply.NewKey[http.Handler]("metrics.handler")

// MetricsOptions configure the [Metrics] plugin: the middleware's options
// and the path of the Prometheus endpoint.
type MetricsOptions struct {
	middleware.MetricsOptions
	// Path is where the Prometheus endpoint is meant to be served. Default
	// "/metrics".
	Path string `json:"path,omitempty" jsonschema:"pattern=^/"`
	// Layers records calls, errors, short-circuits and self-time of every
	// plugin's layer per handler. Default true.
	Layers *bool `json:"layers,omitempty"`
}

// Metrics is the "metrics" plugin: it records request counts, errors,
// durations and requests in flight (see [middleware.NewMetrics]) with an
// OpenTelemetry SDK MeterProvider of its own, exported in the Prometheus
// format from a registry of its own (never the global one, so two hosts in
// one process do not collide). It sits in the Logging band, outside the
// access log.
//
// It serves the Prometheus endpoint on [Metrics.Path] of the HTTP server
// when there is one (it optionally requires "httpserver", so the server is
// provisioned first), and provides it under [MetricsKey] either way.
//
// As a [ply.LayerObserver] it also records, for every plugin's layer on
// every handler: ply_layer_calls, ply_layer_errors,
// ply_layer_short_circuits and ply_layer_self_time (seconds, without the
// inner layers), labelled by plugin and handler.
//
// Its options are [MetricsOptions]: the zero value uses the middleware's
// scope and the path "/metrics". Route options: [Route] (`skip: true`).
type Metrics struct {
	layered
	opts    MetricsOptions
	mp      *sdkmetric.MeterProvider
	handler http.Handler

	calls, errs, shorts metric.Int64Counter
	self                metric.Float64Histogram
}

var (
	_ ply.Configurable        = (*Metrics)(nil)
	_ ply.Provisioner         = (*Metrics)(nil)
	_ ply.Wrapper             = (*Metrics)(nil)
	_ ply.HandlerConfigurable = (*Metrics)(nil)
	_ ply.Cleaner             = (*Metrics)(nil)
	_ ply.LayerObserver       = (*Metrics)(nil)
)

// NewMetrics returns the plugin with opts (the zero value is the default).
func NewMetrics(opts MetricsOptions) *Metrics { return &Metrics{opts: opts} }

// Info names the plugin "metrics", outside tracing and the access log.
func (p *Metrics) Info() ply.Info {
	info := httpInfo("metrics", ply.Logging-10, "records request metrics and serves them to Prometheus")
	info.Requires = []ply.Dependency{{Name: "httpserver", Optional: true}}
	return info
}

// Options returns the plugin's options for the host to fill and check.
func (p *Metrics) Options() any { return &p.opts }

// Provision builds the registry, the MeterProvider and the layer, and
// provides the Prometheus handler under [MetricsKey].
func (p *Metrics) Provision(_ context.Context, setup *ply.Setup) error {
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return fmt.Errorf("prometheus exporter: %v", err)
	}
	p.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter)) // shut down in Cleanup, even if Provision fails
	mw, err := middleware.NewMetrics(p.opts.MetricsOptions, p.mp)
	if err != nil {
		return err
	}
	p.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	p.use(mw)
	if err := p.layerInstruments(); err != nil {
		return err
	}
	if srv, err := ply.Lookup(setup, httpserver.Key); err == nil && srv != nil {
		srv.Handle("GET "+p.Path(), p.handler)
	}
	return ply.Provide(setup, MetricsKey, p.handler)
}

// layerInstruments creates the per-plugin, per-handler instruments that
// ObserveLayer records.
func (p *Metrics) layerInstruments() error {
	m := p.mp.Meter("github.com/plykit/ply/stock")
	var err error
	if p.calls, err = m.Int64Counter("ply.layer.calls", metric.WithDescription("calls of a plugin's layer, per handler")); err != nil {
		return err
	}
	if p.errs, err = m.Int64Counter("ply.layer.errors", metric.WithDescription("calls of a plugin's layer that returned an error")); err != nil {
		return err
	}
	if p.shorts, err = m.Int64Counter("ply.layer.short_circuits", metric.WithDescription("calls of a plugin's layer that did not call next")); err != nil {
		return err
	}
	p.self, err = m.Float64Histogram("ply.layer.self_time", metric.WithUnit("s"),
		metric.WithDescription("time in a plugin's layer, excluding the inner layers and the handler"))
	return err
}

// PrepareLayer builds a layer's labels once: plugin and handler (for
// HTTP, the route pattern, so label cardinality stays bounded).
func (p *Metrics) PrepareLayer(s ply.LayerSample) any {
	if p.opts.Layers != nil && !*p.opts.Layers {
		return nil // declined: the kernel does not measure
	}
	return metric.WithAttributeSet(attribute.NewSet(attribute.String("plugin", s.Plugin), attribute.String("handler", s.Module+" "+s.Handler)))
}

// ObserveLayer records one layer's call.
func (p *Metrics) ObserveLayer(s ply.LayerSample) {
	attrs, ok := s.Prepared.(metric.MeasurementOption)
	if p.calls == nil || !ok {
		return
	}
	ctx := context.Background()
	p.calls.Add(ctx, 1, attrs)
	if s.Err != nil {
		p.errs.Add(ctx, 1, attrs)
	}
	if s.ShortCircuit {
		p.shorts.Add(ctx, 1, attrs)
	}
	p.self.Record(ctx, s.Self.Seconds(), attrs)
}

// Handler returns the Prometheus endpoint, or nil before Provision.
func (p *Metrics) Handler() http.Handler { return p.handler }

// Path returns the path the endpoint is meant to be served on.
func (p *Metrics) Path() string {
	if p.opts.Path == "" {
		return "/metrics"
	}
	return p.opts.Path
}

// Cleanup shuts the MeterProvider down.
func (p *Metrics) Cleanup(ctx context.Context) error {
	if p.mp == nil {
		return nil
	}
	return p.mp.Shutdown(ctx)
}
