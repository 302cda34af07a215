package stock

import (
	"context"

	"github.com/plykit/ply"
	"github.com/plykit/ply/middleware"
)

// Timeout is the "timeout" plugin: it gives each request a context deadline and answers 503 (or 504) when it passes before the handler wrote a response (see [middleware.NewTimeout]), inside the Logging band, so the access log and metrics see the timeout's status.
// Its options are [middleware.TimeoutOptions]: the zero value gives each request 30s and answers 503. Route options:
// [Route] (`skip: true`).
type Timeout struct {
	layered
	opts middleware.TimeoutOptions
}

var (
	_ ply.Configurable        = (*Timeout)(nil)
	_ ply.Provisioner         = (*Timeout)(nil)
	_ ply.Wrapper             = (*Timeout)(nil)
	_ ply.HandlerConfigurable = (*Timeout)(nil)
)

// NewTimeout returns the plugin with opts (the zero value is the default).
func NewTimeout(opts middleware.TimeoutOptions) *Timeout { return &Timeout{opts: opts} }

// Info names the plugin "timeout", inside the Logging band.
func (p *Timeout) Info() ply.Info {
	return httpInfo("timeout", ply.Logging+50, "bounds each request with a deadline and answers 503 or 504 when it passes")
}

// Options returns the plugin's options for the host to fill and check.
func (p *Timeout) Options() any { return &p.opts }

// Provision builds the layer.
func (p *Timeout) Provision(context.Context, *ply.Setup) error {
	mw, err := middleware.NewTimeout(p.opts)
	if err != nil {
		return err
	}
	p.use(mw)
	return nil
}
