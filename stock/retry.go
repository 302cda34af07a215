package stock

import (
	"context"

	"github.com/plykit/ply"
	"github.com/plykit/ply/middleware"
)

// Retry is the "retry" plugin: it runs idempotent requests again, with exponential backoff, while the inner chain answers 502, 503 or 504 (see [middleware.NewRetry]), inside the breaker and the bulkhead and outside the cache, so the breaker counts a request once, after its retries.
// Its options are [middleware.RetryOptions]: the zero value makes 3 attempts, 100ms apart at first. Route options:
// [Route] (`skip: true`).
type Retry struct {
	layered
	opts middleware.RetryOptions
}

var (
	_ ply.Configurable        = (*Retry)(nil)
	_ ply.Provisioner         = (*Retry)(nil)
	_ ply.Wrapper             = (*Retry)(nil)
	_ ply.HandlerConfigurable = (*Retry)(nil)
)

// NewRetry returns the plugin with opts (the zero value is the default).
func NewRetry(opts middleware.RetryOptions) *Retry { return &Retry{opts: opts} }

// Info names the plugin "retry", just outside the cache.
func (p *Retry) Info() ply.Info {
	return httpInfo("retry", ply.Performance-5, "retries idempotent requests on 502, 503 and 504")
}

// Options returns the plugin's options for the host to fill and check.
func (p *Retry) Options() any { return &p.opts }

// Provision builds the layer.
func (p *Retry) Provision(context.Context, *ply.Setup) error {
	mw, err := middleware.NewRetry(p.opts)
	if err != nil {
		return err
	}
	p.use(mw)
	return nil
}
