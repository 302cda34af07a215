package stock

import (
	"context"

	"github.com/plykit/ply"
	"github.com/plykit/ply/middleware"
)

// ErrorReport is the "errorreport" plugin: it reports every 5xx response and every panic of the inner chain to a [middleware.LogReporter] on the host's logger (see [middleware.NewErrorReport]), just inside the access log, at System+35, outside the Security band.
// A response the HTTP host answered for a returned error was logged by the host: the report carries the error and
// logs nothing more, so every failure is logged once.
// Its options are [middleware.ErrorReportOptions]: Plugin and Version default to "errorreport" and [Version]. Route options:
// [Route] (`skip: true`).
type ErrorReport struct {
	layered
	opts middleware.ErrorReportOptions
}

var (
	_ ply.Configurable        = (*ErrorReport)(nil)
	_ ply.Provisioner         = (*ErrorReport)(nil)
	_ ply.Wrapper             = (*ErrorReport)(nil)
	_ ply.HandlerConfigurable = (*ErrorReport)(nil)
)

// NewErrorReport returns the plugin with opts (the zero value is the default).
func NewErrorReport(opts middleware.ErrorReportOptions) *ErrorReport { return &ErrorReport{opts: opts} }

// Info names the plugin "errorreport", just inside the access log.
func (p *ErrorReport) Info() ply.Info {
	return httpInfo("errorreport", ply.System+35, "logs 5xx responses and panics as errors")
}

// Options returns the plugin's options for the host to fill and check.
func (p *ErrorReport) Options() any { return &p.opts }

// Provision builds the layer with a [middleware.LogReporter] on the host's logger.
func (p *ErrorReport) Provision(_ context.Context, setup *ply.Setup) error {
	opts := p.opts
	if opts.Plugin == "" {
		opts.Plugin, opts.Version = "errorreport", Version
	}
	mw, err := middleware.NewErrorReport(opts, middleware.LogReporter{Logger: setup.Logger()})
	if err != nil {
		return err
	}
	p.use(mw)
	return nil
}
