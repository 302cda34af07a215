package stock

import (
	"context"

	"github.com/plykit/ply"
	"github.com/plykit/ply/middleware"
)

// Breaker is the "breaker" plugin: it keeps one circuit breaker per route
// and fails fast with 503 and Retry-After while a route keeps answering
// 5xx (see [middleware.NewBreaker]); state changes are logged with the
// host's logger. It sits outside the bulkhead and the retry, before the
// Performance band, so it counts a request once, after its retries.
//
// Its options are [middleware.BreakerOptions]: the zero value opens after
// 5 consecutive failures and half-opens after 30s. Route options: [Route]
// (`skip: true`).
type Breaker struct {
	layered
	opts middleware.BreakerOptions
}

var (
	_ ply.Configurable        = (*Breaker)(nil)
	_ ply.Provisioner         = (*Breaker)(nil)
	_ ply.Wrapper             = (*Breaker)(nil)
	_ ply.HandlerConfigurable = (*Breaker)(nil)
)

// NewBreaker returns the plugin with opts (the zero value is the default).
func NewBreaker(opts middleware.BreakerOptions) *Breaker { return &Breaker{opts: opts} }

// Info names the plugin "breaker", outside the bulkhead.
func (p *Breaker) Info() ply.Info {
	return httpInfo("breaker", ply.Performance-20, "fails fast with 503 while a route keeps failing")
}

// Options returns the plugin's options for the host to fill and check.
func (p *Breaker) Options() any { return &p.opts }

// Provision builds the layer, logging with the host's logger.
func (p *Breaker) Provision(_ context.Context, setup *ply.Setup) error {
	b, err := middleware.NewBreaker(p.opts, setup.Logger())
	if err != nil {
		return err
	}
	p.use(b.Middleware())
	return nil
}
