package stock

import (
	"context"
	"fmt"
	"time"

	"github.com/plykit/ply"
	"github.com/plykit/ply/middleware"
	"github.com/plykit/ply/option"
)

// RateLimit is the "ratelimit" plugin: it limits requests per client IP
// (an IPv6 client by its /64), principal or header with token buckets and
// answers 429 with Retry-After over the limit (see
// [middleware.NewRateLimit]). It sits at Security-5, just outside auth, so
// that failed logins are limited too: a client guessing API keys or tokens
// gets 429 before auth checks them. It does not require auth.
//
// Its options are [middleware.RateLimitOptions]: the zero value allows 10
// requests per second per client IP, in bursts of 20. The "principal" key
// limits by the caller that auth authenticated, so it needs auth outside
// the limiter: Provision fails with a [*option.Error] on the key unless
// the plugin named "auth" wraps this one in the chain, that is unless the
// operator moved the rate limit inside auth with a priority above auth's
// (`priority: 110` in its entry of plugins in ply.yaml, or
// ply.WithPriority("ratelimit", 110)); it then no longer slows password
// guessing. Route options: [Route] (`skip: true`).
//
// A reload that replaces the plugin (new options) hands its token buckets to
// the new instance, so no client gets a fresh burst from a reload.
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
	_ ply.StateExporter       = (*RateLimit)(nil)
	_ ply.StateImporter       = (*RateLimit)(nil)
)

// NewRateLimit returns the plugin with opts (the zero value is the default).
func NewRateLimit(opts middleware.RateLimitOptions) *RateLimit { return &RateLimit{opts: opts} }

// Info names the plugin "ratelimit", just outside auth.
func (p *RateLimit) Info() ply.Info {
	return httpInfo("ratelimit", ply.Security-5, "limits requests per client with token buckets, before auth")
}

// Options returns the plugin's options for the host to fill and check.
func (p *RateLimit) Options() any { return &p.opts }

// Provision checks that a "principal" key has auth outside it, and builds
// the layer and its bucket store.
func (p *RateLimit) Provision(_ context.Context, setup *ply.Setup) error {
	if p.opts.Key == "principal" {
		if err := insideAuth(setup); err != nil {
			return err
		}
	}
	rl, err := middleware.NewRateLimit(p.opts, time.Now)
	if err != nil {
		return err
	}
	p.rl = rl
	p.use(rl.Middleware())
	return nil
}

// insideAuth returns a [*option.Error] on the key unless the plugin
// named "auth" comes before this one in the host's chain order.
func insideAuth(setup *ply.Setup) error {
	me := setup.Info()
	plan, err := setup.Host().Plan()
	if err != nil {
		return err
	}
	authAt, meAt := -1, -1
	for i, in := range plan.Order(ply.ChainOrder) {
		switch {
		case in.Name == "auth" && authAt < 0:
			authAt = i
		case in.ID() == me.ID():
			meAt = i
		}
	}
	const fix = `limit by "ip" (the default, which also slows the guessing of keys and tokens), or`
	switch {
	case authAt < 0:
		return &option.Error{Plugin: me.Name, Field: "key", Problem: `"principal" limits by the caller that the auth plugin authenticates, but no plugin named auth is registered; ` +
			fix + " register auth"}
	case authAt > meAt:
		var authPriority int
		for _, in := range plan.Order(ply.ChainOrder) {
			if in.Name == "auth" {
				authPriority = in.Priority
				break
			}
		}
		return &option.Error{Plugin: me.Name, Field: "key", Problem: fmt.Sprintf(
			`"principal" limits by the caller that auth authenticates, but %s (priority %d) runs before auth (priority %d), where no request has a caller yet; `+
				`%s move %s inside auth with a priority above %d: "priority: %d" in the %s entry of plugins in ply.yaml, or ply.WithPriority(%q, %d) in Go`,
			me.Name, me.Priority, authPriority, fix, me.Name, authPriority, authPriority+10, me.Name, me.Name, authPriority+10)}
	}
	return nil
}

// ExportState hands the token buckets to the instance replacing this one
// in a reload, so that a reload gives no client a fresh burst.
func (p *RateLimit) ExportState(context.Context) (any, error) { return p.rl, nil }

// ImportState takes over the buckets of the instance this one replaces,
// with this instance's rate and burst (see [middleware.RateLimit.Adopt]).
// When the two limit by different keys the buckets are left behind: they
// count other things.
func (p *RateLimit) ImportState(_ context.Context, state any, from ply.Info) error {
	return takeOver(p.Info(), state, from, func(old *middleware.RateLimit) { p.rl.Adopt(old) })
}

// Cleanup stops the bucket store's background clean-up.
func (p *RateLimit) Cleanup(context.Context) error {
	if p.rl == nil {
		return nil
	}
	return p.rl.Close()
}
