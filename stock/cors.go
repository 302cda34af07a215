package stock

import (
	"context"

	"github.com/plykit/ply"
	"github.com/plykit/ply/middleware"
)

// CORS is the "cors" plugin: it answers CORS preflights and sets CORS
// headers (see [middleware.NewCORS]), just outside the Security band, as
// preflights carry no credentials and must answer before auth.
//
// Its options are [middleware.CORSOptions]: the zero value allows every
// origin with simple methods and headers, without credentials. With
// allowCredentials, the origins must be listed: "*", "null" and wildcards
// that cover any host ("https://*", "*://…") are refused when the host
// plans, with a [*option.Error] naming the field; a subdomain wildcard
// ("https://*.example.com") is allowed. Route options: [Route] (`skip: true`).
type CORS struct {
	layered
	opts middleware.CORSOptions
}

var (
	_ ply.Configurable        = (*CORS)(nil)
	_ ply.Provisioner         = (*CORS)(nil)
	_ ply.Wrapper             = (*CORS)(nil)
	_ ply.HandlerConfigurable = (*CORS)(nil)
)

// NewCORS returns the plugin with opts (the zero value is the default).
func NewCORS(opts middleware.CORSOptions) *CORS { return &CORS{opts: opts} }

// Info names the plugin "cors", just outside auth.
func (p *CORS) Info() ply.Info {
	return httpInfo("cors", ply.Security-10, "answers CORS preflights and sets CORS headers")
}

// Options returns the plugin's options for the host to fill and check.
func (p *CORS) Options() any { return &p.opts }

// Provision builds the layer.
func (p *CORS) Provision(context.Context, *ply.Setup) error {
	mw, err := middleware.NewCORS(p.opts)
	if err != nil {
		return err
	}
	p.use(mw)
	return nil
}
