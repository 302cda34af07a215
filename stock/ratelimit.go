package stock

import (
	"context"
	"time"

	"github.com/plykit/ply"
	"github.com/plykit/ply/middleware"
)

// RateLimit is the "ratelimit" plugin: it limits requests per client IP,
// principal or header with token buckets and answers 429 with Retry-After
// over the limit (see [middleware.NewRateLimit]). It sits just inside auth,
// in the Security band, so that its "principal" key sees the caller; it
// does not require auth.
//
// Its options are [middleware.RateLimitOptions]: the zero value allows 10
// requests per second per client IP, in bursts of 20. Route options:
// [Route] (`skip: true`).
type RateLimit struct {
	layered
	opts middleware.RateLimitOptions
	rl   *middleware.RateLimit
}

var (
	_ ply.Configurable        = (*RateLimit)(nil)
	_ ply.Provisioner         = (*RateLimit)(nil)
	_ ply.Wrapper             = (*RateLimit)(nil)
	_ ply.HandlerConfigurable = (*RateLimit)(nil)
	_ ply.Cleaner             = (*RateLimit)(nil)
)

// NewRateLimit returns the plugin with opts (the zero value is the default).
func NewRateLimit(opts middleware.RateLimitOptions) *RateLimit { return &RateLimit{opts: opts} }

// Info names the plugin "ratelimit", just inside auth.
func (p *RateLimit) Info() ply.Info {
	return httpInfo("ratelimit", ply.Security+10, "limits requests per client with token buckets")
}

// Options returns the plugin's options for the host to fill and check.
func (p *RateLimit) Options() any { return &p.opts }

// Provision builds the layer and its bucket store.
func (p *RateLimit) Provision(context.Context, *ply.Setup) error {
	rl, err := middleware.NewRateLimit(p.opts, time.Now)
	if err != nil {
		return err
	}
	p.rl = rl
	p.use(rl.Middleware())
	return nil
}

// Cleanup stops the bucket store's background clean-up.
func (p *RateLimit) Cleanup(context.Context) error {
	if p.rl == nil {
		return nil
	}
	return p.rl.Close()
}
