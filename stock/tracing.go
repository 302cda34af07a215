package stock

import (
	"context"
	"fmt"
	"os"

	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/plykit/ply"
	"github.com/plykit/ply/middleware"
)

// TracingOptions configure the [Tracing] plugin: the middleware's options
// and where spans go.
type TracingOptions struct {
	middleware.TracingOptions
	// Stdout writes every ended span to standard output, as JSON. Default
	// false: spans are recorded and dropped.
	Stdout bool `json:"stdout,omitempty"`
}

// Tracing is the "tracing" plugin: it runs each request in a server span
// (see [middleware.NewTracing]), a child of the W3C trace context in the
// request headers, with an OpenTelemetry SDK TracerProvider of its own. It
// sits at System+25, inside metrics and outside the access log, the error
// reports (which see its span) and the Security band, so rejected requests
// are traced too.
//
// Its options are [TracingOptions]: the zero value records spans and drops
// them, as it has no exporter. Route options: [Route] (`skip: true`).
type Tracing struct {
	layered
	opts TracingOptions
	tp   *sdktrace.TracerProvider
}

var (
	_ ply.Configurable        = (*Tracing)(nil)
	_ ply.Provisioner         = (*Tracing)(nil)
	_ ply.Wrapper             = (*Tracing)(nil)
	_ ply.HandlerConfigurable = (*Tracing)(nil)
	_ ply.Cleaner             = (*Tracing)(nil)
)

// NewTracing returns the plugin with opts (the zero value is the default).
func NewTracing(opts TracingOptions) *Tracing { return &Tracing{opts: opts} }

// Info names the plugin "tracing", inside metrics, outside the Security band.
func (p *Tracing) Info() ply.Info {
	return httpInfo("tracing", ply.System+25, "runs each request in an OpenTelemetry span")
}

// Options returns the plugin's options for the host to fill and check.
func (p *Tracing) Options() any { return &p.opts }

// Provision builds the TracerProvider and the layer.
func (p *Tracing) Provision(context.Context, *ply.Setup) error {
	var tpo []sdktrace.TracerProviderOption
	if p.opts.Stdout {
		exp, err := stdouttrace.New(stdouttrace.WithWriter(os.Stdout))
		if err != nil {
			return fmt.Errorf("stdout exporter: %w", err)
		}
		tpo = append(tpo, sdktrace.WithSyncer(exp))
	}
	p.tp = sdktrace.NewTracerProvider(tpo...) // shut down in Cleanup, even if Provision fails
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	mw, err := middleware.NewTracing(p.opts.TracingOptions, p.tp, prop)
	if err != nil {
		return err
	}
	p.use(mw)
	return nil
}

// Cleanup shuts the TracerProvider down, flushing its exporter.
func (p *Tracing) Cleanup(ctx context.Context) error {
	if p.tp == nil {
		return nil
	}
	return p.tp.Shutdown(ctx)
}
