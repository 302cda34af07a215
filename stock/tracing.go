package stock

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/plykit/ply"
	"github.com/plykit/ply/middleware"
)

// TracingOptions configure the [Tracing] plugin: the middleware's options
// and the OpenTelemetry API providers it uses.
type TracingOptions struct {
	middleware.TracingOptions

	// TracerProvider starts the spans: an OpenTelemetry API provider that
	// the program wires (an SDK TracerProvider with its exporters).
	// Default: [otel.GetTracerProvider] at Provision, which records nothing
	// until the program sets a global provider. Set in Go only, never from
	// a config file.
	TracerProvider trace.TracerProvider `json:"-"`
	// Propagator reads the trace context of a request from its headers.
	// Default: [otel.GetTextMapPropagator] at Provision, which reads
	// nothing until the program sets a global propagator (the ply command
	// sets W3C TraceContext and Baggage). Set in Go only.
	Propagator propagation.TextMapPropagator `json:"-"`
}

// Tracing is the "tracing" plugin: it runs each request in a server span
// (see [middleware.NewTracing]), a child of the trace context in the
// request headers, with the OpenTelemetry API TracerProvider and
// propagator of [TracingOptions], the global ones by default. It builds no
// SDK and no exporter: the program does, as OpenTelemetry advises for
// libraries (the ply command wires an SDK that writes spans to standard
// output; see the example of [NewTracing] to do it in Go). It sits at
// System+25, inside metrics and outside the access log, the error reports
// (which see its span) and the Security band, so rejected requests are
// traced too.
//
// Its options are [TracingOptions]: the zero value uses the global
// providers. Route options: [Route] (`skip: true`).
type Tracing struct {
	layered
	opts TracingOptions
}

var (
	_ ply.Configurable        = (*Tracing)(nil)
	_ ply.Provisioner         = (*Tracing)(nil)
	_ ply.Wrapper             = (*Tracing)(nil)
	_ ply.HandlerConfigurable = (*Tracing)(nil)
)

// NewTracing returns the plugin with opts (the zero value is the default).
func NewTracing(opts TracingOptions) *Tracing { return &Tracing{opts: opts} }

// Info names the plugin "tracing", inside metrics, outside the Security band.
func (p *Tracing) Info() ply.Info {
	return httpInfo("tracing", ply.System+25, "runs each request in an OpenTelemetry span")
}

// Options returns the plugin's options for the host to fill and check.
func (p *Tracing) Options() any { return &p.opts }

// Provision builds the layer with the providers of the options, or the
// global ones.
func (p *Tracing) Provision(context.Context, *ply.Setup) error {
	tp, prop := p.opts.TracerProvider, p.opts.Propagator
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if prop == nil {
		prop = otel.GetTextMapPropagator()
	}
	mw, err := middleware.NewTracing(p.opts.TracingOptions, tp, prop)
	if err != nil {
		return err
	}
	p.use(mw)
	return nil
}
