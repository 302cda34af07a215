package stock

import (
	"context"
	"net/http"

	"github.com/plykit/ply"
	"github.com/plykit/ply/middleware"
)

// Auth is the "auth" plugin: it checks API keys and JWTs and the scopes
// every route requires (see [middleware.NewAuth]), in the Security band,
// and puts the caller in the request's context for
// [middleware.PrincipalFrom]. A request without credentials gets 401 with
// WWW-Authenticate; one lacking a scope gets 403. Each rejected credential
// is logged at warn level on the host's logger, with the reason and the
// client address but never the credential. The rate limit sits just
// outside it, so guessing keys or tokens is limited too.
//
// Its options are [middleware.AuthOptions]. There is no default: at least
// one API key or one JWT key source must be set, else the host reports a
// [*option.Error]; a JWT key source needs jwt.issuer and jwt.audience
// (or jwt.anyIssuer and jwt.anyAudience). The header that carried the
// credential is removed before the inner chain and any proxied upstream
// unless forwardCredentials is set. A JWKS URL is fetched with
// [http.DefaultClient] (each fetch bounded by jwt.fetchTimeout) in the
// background from Provision until the host cleans up; until its first
// fetch succeeds, and while fetches fail, the plugin reports itself
// degraded in health (see [ply.HealthChecker]). Route options: [Route]
// (`skip: true` makes a route public). The middleware checks the same
// scopes on every route, so there are no per-route scopes.
type Auth struct {
	layered
	opts middleware.AuthOptions
	auth *middleware.Auth
}

var (
	_ ply.Configurable        = (*Auth)(nil)
	_ ply.Provisioner         = (*Auth)(nil)
	_ ply.Wrapper             = (*Auth)(nil)
	_ ply.HandlerConfigurable = (*Auth)(nil)
	_ ply.HealthChecker       = (*Auth)(nil)
	_ ply.Cleaner             = (*Auth)(nil)
)

// NewAuth returns the plugin with opts.
func NewAuth(opts middleware.AuthOptions) *Auth { return &Auth{opts: opts} }

// Info names the plugin "auth", in the Security band.
func (p *Auth) Info() ply.Info {
	return httpInfo("auth", ply.Security, "checks API keys, JWTs and scopes")
}

// Options returns the plugin's options for the host to fill and check.
func (p *Auth) Options() any { return &p.opts }

// Provision builds the layer, and starts fetching a JWKS URL if one is set.
func (p *Auth) Provision(_ context.Context, setup *ply.Setup) error {
	a, err := middleware.NewAuth(p.opts, http.DefaultClient, setup.Logger())
	if err != nil {
		return err
	}
	p.auth = a
	p.use(a.Middleware())
	return nil
}

// Health reports the plugin degraded (an error matching [ply.ErrDegraded])
// until its JWKS URL was fetched once, and while its latest fetch fails.
func (p *Auth) Health(ctx context.Context) error {
	if p.auth == nil {
		return nil
	}
	return p.auth.Health(ctx)
}

// Cleanup stops fetching the JWKS URL.
func (p *Auth) Cleanup(context.Context) error {
	if p.auth == nil {
		return nil
	}
	return p.auth.Close()
}
