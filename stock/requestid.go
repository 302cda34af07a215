package stock

import (
	"context"

	"github.com/plykit/ply"
	"github.com/plykit/ply/middleware"
)

// RequestID is the "requestid" plugin: it gives every request an id (see
// [middleware.NewRequestID]), in the System band so every later layer sees it.
type RequestID struct {
	layered
	opts middleware.RequestIDOptions
}

var (
	_ ply.Configurable        = (*RequestID)(nil)
	_ ply.Provisioner         = (*RequestID)(nil)
	_ ply.Wrapper             = (*RequestID)(nil)
	_ ply.HandlerConfigurable = (*RequestID)(nil)
)

// NewRequestID returns the plugin with opts (the zero value is the default).
func NewRequestID(opts middleware.RequestIDOptions) *RequestID { return &RequestID{opts: opts} }

// Info names the plugin "requestid", just inside recover.
func (p *RequestID) Info() ply.Info {
	return httpInfo("requestid", ply.System+10, "gives every request an id, in X-Request-Id")
}

// Options returns the plugin's options for the host to fill and check.
func (p *RequestID) Options() any { return &p.opts }

// Provision builds the layer.
func (p *RequestID) Provision(context.Context, *ply.Setup) error {
	mw, err := middleware.NewRequestID(p.opts)
	if err != nil {
		return err
	}
	p.use(mw)
	return nil
}
