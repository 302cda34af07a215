package stock

import (
	"context"

	"github.com/plykit/ply"
	"github.com/plykit/ply/middleware"
)

// AccessLog is the "accesslog" plugin: it logs one record per request with the host's logger (see [middleware.NewAccessLog]).
// It sits at System+30, inside the request id and outside the Security band, so it logs every request with the
// status its client got: the 401s of auth and the 429s of the rate limit too, and the status an error stands for
// (the HTTP host answers a returned error before it reaches the access log; see [github.com/plykit/ply/httpserver.Handler]).
// Its options are [middleware.AccessLogOptions]: the zero value logs "http request" at info level (5xx at error). Route options:
// [Route] (`skip: true`).
type AccessLog struct {
	layered
	opts middleware.AccessLogOptions
}

var (
	_ ply.Configurable        = (*AccessLog)(nil)
	_ ply.Provisioner         = (*AccessLog)(nil)
	_ ply.Wrapper             = (*AccessLog)(nil)
	_ ply.HandlerConfigurable = (*AccessLog)(nil)
)

// NewAccessLog returns the plugin with opts (the zero value is the default).
func NewAccessLog(opts middleware.AccessLogOptions) *AccessLog { return &AccessLog{opts: opts} }

// Info names the plugin "accesslog", outside the Security band.
func (p *AccessLog) Info() ply.Info {
	return httpInfo("accesslog", ply.System+30, "logs one record per request")
}

// Options returns the plugin's options for the host to fill and check.
func (p *AccessLog) Options() any { return &p.opts }

// Provision builds the layer with the host's logger.
func (p *AccessLog) Provision(_ context.Context, setup *ply.Setup) error {
	mw, err := middleware.NewAccessLog(p.opts, setup.Logger())
	if err != nil {
		return err
	}
	p.use(mw)
	return nil
}
