package stock

import (
	"context"

	"github.com/plykit/ply"
	"github.com/plykit/ply/middleware"
)

// Bulkhead is the "bulkhead" plugin: it bounds the number of requests in flight and answers 503 with Retry-After to the rest (see [middleware.NewBulkhead]), outside the Performance band, inside the breaker.
// Its options are [middleware.BulkheadOptions]: the zero value allows 100 concurrent requests and rejects the next at once. Route options:
// [Route] (`skip: true`).
type Bulkhead struct {
	layered
	opts middleware.BulkheadOptions
}

var (
	_ ply.Configurable        = (*Bulkhead)(nil)
	_ ply.Provisioner         = (*Bulkhead)(nil)
	_ ply.Wrapper             = (*Bulkhead)(nil)
	_ ply.HandlerConfigurable = (*Bulkhead)(nil)
)

// NewBulkhead returns the plugin with opts (the zero value is the default).
func NewBulkhead(opts middleware.BulkheadOptions) *Bulkhead { return &Bulkhead{opts: opts} }

// Info names the plugin "bulkhead", just inside the breaker.
func (p *Bulkhead) Info() ply.Info {
	return httpInfo("bulkhead", ply.Performance-10, "bounds the requests in flight and rejects the rest with 503")
}

// Options returns the plugin's options for the host to fill and check.
func (p *Bulkhead) Options() any { return &p.opts }

// Provision builds the layer.
func (p *Bulkhead) Provision(context.Context, *ply.Setup) error {
	mw, err := middleware.NewBulkhead(p.opts)
	if err != nil {
		return err
	}
	p.use(mw)
	return nil
}
