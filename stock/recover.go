package stock

import (
	"context"

	"github.com/plykit/ply"
	"github.com/plykit/ply/middleware"
)

// Recover is the "recover" plugin: it turns a panic in any inner layer or handler into a 500 problem response and logs it with the host's logger (see [middleware.NewRecover]), in the System band, outermost, so it catches every panic.
// Its options are [middleware.RecoverOptions]: the zero value logs as "recover". Route options:
// [Route] (`skip: true`).
type Recover struct {
	layered
	opts middleware.RecoverOptions
}

var (
	_ ply.Configurable        = (*Recover)(nil)
	_ ply.Provisioner         = (*Recover)(nil)
	_ ply.Wrapper             = (*Recover)(nil)
	_ ply.HandlerConfigurable = (*Recover)(nil)
)

// NewRecover returns the plugin with opts (the zero value is the default).
func NewRecover(opts middleware.RecoverOptions) *Recover { return &Recover{opts: opts} }

// Info names the plugin "recover", outermost, in the System band.
func (p *Recover) Info() ply.Info {
	return httpInfo("recover", ply.System, "turns panics into 500 responses and logs them")
}

// Options returns the plugin's options for the host to fill and check.
func (p *Recover) Options() any { return &p.opts }

// Provision builds the layer with the host's logger.
func (p *Recover) Provision(_ context.Context, setup *ply.Setup) error {
	mw, err := middleware.NewRecover(p.opts, setup.Logger())
	if err != nil {
		return err
	}
	p.use(mw)
	return nil
}
