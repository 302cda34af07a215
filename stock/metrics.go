package stock

import (
	"cmp"
	"context"
	"net/http"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/middleware"
)

// MetricsKey is the typed API under which the metrics plugin provides the
// endpoint it was given ([MetricsOptions.Handler]), for the plugin that
// serves it.
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
	// TenantLabels is how many tenants, the busiest, get a tenant label of
	// their own on the layer metrics of a multi-tenant host; the others'
	// calls count as tenant "other". Default [DefaultTenantLabels].
	TenantLabels int `json:"tenantLabels,omitempty" jsonschema:"minimum=0,maximum=1000"`

	// MeterProvider records the metrics: an OpenTelemetry API provider that
	// the program wires (an SDK MeterProvider with its readers and
	// exporters). Default: [otel.GetMeterProvider] at Provision, which
	// records nothing until the program sets a global provider. Set in Go
	// only, never from a config file.
	MeterProvider metric.MeterProvider `json:"-"`
	// Handler is the endpoint that exposes what MeterProvider records, for
	// example promhttp.HandlerFor on the registry of the Prometheus
	// exporter. The plugin serves it on Path and provides it under
	// [MetricsKey]. Default nil: no endpoint. Set in Go only; the ply
	// command sets it (see package cli).
	Handler http.Handler `json:"-"`
}

// Metrics is the "metrics" plugin: it records request counts, errors,
// durations and requests in flight (see [middleware.NewMetrics]) with the
// OpenTelemetry API MeterProvider of [MetricsOptions.MeterProvider], the
// global one by default. It builds no SDK and no exporter: the program
// does, as OpenTelemetry advises for libraries (the ply command wires an
// SDK with a Prometheus exporter; see the example of [NewMetrics] to do it
// in Go). It sits at System+20, inside the request id
// and outside tracing, the access log and the Security band, so it counts
// every request with the status its client got, the 401s and 429s too.
//
// Given an endpoint ([MetricsOptions.Handler]), it serves it on
// [Metrics.Path] of the HTTP server when there is one (it optionally
// requires "httpserver", so the server is provisioned first), and provides
// it under [MetricsKey] either way. The
// server mounts it on its main address by default, readable by anyone who
// reaches it; set the server's adminAddr to serve it on a loopback
// listener of its own instead (see [httpserver.Options]).
//
// As a [ply.LayerObserver] it also records, for every plugin's layer on
// every handler: ply_layer_calls, ply_layer_errors,
// ply_layer_short_circuits and ply_layer_self_seconds (time without the
// inner layers; divide by calls for the average), labelled by plugin and
// handler. Recording them is a few atomic adds per layer; Prometheus
// scrapes read them.
//
// Its options are [MetricsOptions]: the zero value uses the middleware's
// scope and the path "/metrics". Route options: [Route] (`skip: true`).
type Metrics struct {
	layered
	opts MetricsOptions
	mp   metric.MeterProvider

	reg    metric.Registration // of the layer instruments' callback
	mu     sync.Mutex
	layers map[string]*layerStats // by plugin and handler
	rank   *tenantRank            // which tenants get a label of their own

	reloads    metric.Int64Counter
	reloadTook metric.Float64Histogram
}

var (
	_ ply.Configurable        = (*Metrics)(nil)
	_ ply.Provisioner         = (*Metrics)(nil)
	_ ply.Wrapper             = (*Metrics)(nil)
	_ ply.HandlerConfigurable = (*Metrics)(nil)
	_ ply.Cleaner             = (*Metrics)(nil)
	_ ply.LayerObserver       = (*Metrics)(nil)
	_ ply.ReloadObserver      = (*Metrics)(nil)
)

// NewMetrics returns the plugin with opts (the zero value is the default).
func NewMetrics(opts MetricsOptions) *Metrics { return &Metrics{opts: opts} }

// Info names the plugin "metrics", outside tracing, the access log and the
// Security band.
func (p *Metrics) Info() ply.Info {
	info := httpInfo("metrics", ply.System+20, "records request metrics and serves them to Prometheus")
	info.Requires = []ply.Dependency{{Name: "httpserver", Optional: true}}
	return info
}

// Options returns the plugin's options for the host to fill and check.
func (p *Metrics) Options() any { return &p.opts }

// Provision builds the instruments and the layer, and serves and provides
// the endpoint, if it was given one.
func (p *Metrics) Provision(_ context.Context, setup *ply.Setup) error {
	p.mp = p.opts.MeterProvider
	if p.mp == nil {
		p.mp = otel.GetMeterProvider()
	}
	mw, err := middleware.NewMetrics(p.opts.MetricsOptions, p.mp)
	if err != nil {
		return err
	}
	p.use(mw)
	if err := p.layerInstruments(); err != nil {
		return err
	}
	if err := p.reloadInstruments(); err != nil {
		return err
	}
	if p.opts.Handler == nil {
		return nil
	}
	if srv, err := ply.Lookup(setup, httpserver.Key); err == nil && srv != nil {
		srv.Handle("GET "+p.Path(), p.opts.Handler)
	}
	return ply.Provide(setup, MetricsKey, p.opts.Handler)
}

// layerInstruments registers the per-plugin, per-handler instruments.
// They are observable: ObserveLayer only adds to atomics, and the SDK reads
// them when Prometheus scrapes, so measuring every layer stays cheap.
func (p *Metrics) layerInstruments() error {
	m := p.mp.Meter("github.com/plykit/ply/stock")
	calls, err := m.Int64ObservableCounter("ply.layer.calls", metric.WithDescription("calls of a plugin's layer, per handler"))
	if err != nil {
		return err
	}
	errs, err := m.Int64ObservableCounter("ply.layer.errors", metric.WithDescription("calls of a plugin's layer that returned an error"))
	if err != nil {
		return err
	}
	shorts, err := m.Int64ObservableCounter("ply.layer.short_circuits", metric.WithDescription("calls of a plugin's layer that did not call next"))
	if err != nil {
		return err
	}
	self, err := m.Float64ObservableCounter("ply.layer.self", metric.WithUnit("s"),
		metric.WithDescription("time in a plugin's layer, excluding the inner layers and the handler; divide by calls for the average"))
	if err != nil {
		return err
	}
	p.layers = make(map[string]*layerStats)
	p.rank = newTenantRank(cmp.Or(p.opts.TenantLabels, DefaultTenantLabels))
	p.reg, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		observe := func(l *layerStats) {
			o.ObserveInt64(calls, l.calls.Load(), l.attrs)
			o.ObserveInt64(errs, l.errs.Load(), l.attrs)
			o.ObserveInt64(shorts, l.shorts.Load(), l.attrs)
			o.ObserveFloat64(self, float64(l.selfNanos.Load())/1e9, l.attrs)
		}
		for _, l := range p.layers {
			if l.calls.Load() > 0 || l.tenantCount() == 0 {
				observe(l)
			}
			p.foldDemoted(l)
			top := *p.rank.top.Load()
			l.tenants.Range(func(k, s any) bool {
				if label := k.(string); label == OtherTenants || top[label] {
					observe(s.(*layerStats))
				}
				return true
			})
		}
		return nil
	}, calls, errs, shorts, self)
	return err
}

// reloadInstruments makes the instruments of [Metrics.ObserveReload].
func (p *Metrics) reloadInstruments() error {
	m := p.mp.Meter("github.com/plykit/ply/stock")
	var err error
	p.reloads, err = m.Int64Counter("ply.reloads", metric.WithDescription("reloads of the host, by outcome: ok, failed or rolled_back"))
	if err != nil {
		return err
	}
	p.reloadTook, err = m.Float64Histogram("ply.reload.duration", metric.WithUnit("s"),
		metric.WithDescription("how long reloads took, from the plan to the old generation stopped"),
		metric.WithExplicitBucketBoundaries(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60))
	return err
}

// ObserveReload counts a reload of the host in ply_reloads_total, labelled
// by outcome (ok, failed, rolled_back), and records how long it took in
// ply_reload_duration_seconds. The reload's plan, its hooks and the drain
// of the old generation are all in its time.
func (p *Metrics) ObserveReload(r ply.Reloaded, err error) {
	ctx := context.Background() // the reload has ended; nothing to cancel
	outcome := metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", r.Outcome(err))))
	p.reloads.Add(ctx, 1, outcome)
	p.reloadTook.Record(ctx, r.Took.Seconds(), outcome)
}

// layerStats are one plugin's figures on one handler. They outlive chain
// snapshots: a reload that recompiles a chain prepares the same stats again.
type layerStats struct {
	attrs               metric.ObserveOption
	labels              []attribute.KeyValue // plugin and handler
	tenants             sync.Map             // tenant label -> *layerStats, on a multi-tenant host
	calls, errs, shorts atomic.Int64
	selfNanos           atomic.Int64
}

// PrepareLayer returns the stats of a plugin on a handler (for HTTP, the
// route pattern, so label cardinality stays bounded).
func (p *Metrics) PrepareLayer(s ply.LayerSample) any {
	if (p.opts.Layers != nil && !*p.opts.Layers) || s.After {
		return nil // declined: the kernel does not measure (layers off), or an after-hook, not a layer
	}
	handler := s.Module + " " + s.Handler
	key := s.Plugin + "\x00" + handler
	p.mu.Lock()
	defer p.mu.Unlock()
	if l, ok := p.layers[key]; ok {
		return l
	}
	labels := []attribute.KeyValue{attribute.String("plugin", s.Plugin), attribute.String("handler", handler)}
	l := &layerStats{labels: labels, attrs: metric.WithAttributeSet(attribute.NewSet(labels...))}
	p.layers[key] = l
	return l
}

// ObserveLayer counts one layer's call: a few atomic adds.
func (p *Metrics) ObserveLayer(s ply.LayerSample) {
	l, ok := s.Prepared.(*layerStats)
	if !ok {
		return
	}
	if s.Tenant != "" {
		l = p.forTenant(l, s.Tenant)
	}
	l.calls.Add(1)
	if s.Err != nil {
		l.errs.Add(1)
	}
	if s.ShortCircuit {
		l.shorts.Add(1)
	}
	l.selfNanos.Add(int64(s.Self))
}

// Handler returns the endpoint of [MetricsOptions.Handler], or nil.
func (p *Metrics) Handler() http.Handler { return p.opts.Handler }

// Path returns the path the endpoint is meant to be served on.
func (p *Metrics) Path() string {
	if p.opts.Path == "" {
		return "/metrics"
	}
	return p.opts.Path
}

// Cleanup unregisters the callback of the layer instruments, so a
// provider that outlives the host does not keep observing it.
func (p *Metrics) Cleanup(context.Context) error {
	if p.reg == nil {
		return nil
	}
	return p.reg.Unregister()
}
