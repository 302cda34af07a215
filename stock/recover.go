package stock

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/middleware"
)

// Recover is the "recover" plugin, in the System band so it is outermost:
// it catches a panic anywhere inside it with [ply.Next.Catch], so the panic
// arrives already attributed (a *ply.PluginError naming the plugin whose
// layer panicked, or a *ply.HandlerError naming the route). It logs it at
// error level with the attributes layer, at, method, path, panic and stack,
// and answers 500 with a problem body: the panic is handled, as net/http
// recover middleware handles it. When the response had begun it cannot be
// answered: the error goes on, and the HTTP host aborts the response. Its options are
// [middleware.RecoverOptions]: the zero value logs as "recover". Route
// options: [Route] (`skip: true`).
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
	name := cmp.Or(p.opts.Name, "recover")
	logger := setup.Logger()
	p.layer = func(ctx context.Context, c *ply.Call, next ply.Next) error {
		w, _ := c.Response().(*httpserver.ResponseWriter) // before inner layers swap in theirs
		err := next.Catch(ctx)
		pe, ok := errors.AsType[*ply.PanicError](err)
		if !ok {
			return err
		}
		attrs := []slog.Attr{slog.String("layer", name), slog.String("at", strings.TrimSuffix(err.Error(), ": "+pe.Error()))}
		r, _ := c.Request().(*http.Request)
		if r != nil {
			attrs = append(attrs, slog.String("method", middleware.Clip(r.Method)), slog.String("path", middleware.Clip(r.URL.Path)))
		}
		attrs = append(attrs, slog.String("panic", fmt.Sprint(pe.Value)), slog.String("stack", string(pe.Stack)))
		logger.LogAttrs(ctx, slog.LevelError, "panic in handler", attrs...)
		if w == nil || w.Status() != 0 {
			return httpserver.Logged(err) // too late to answer: the host aborts the response
		}
		middleware.WriteProblem(w, http.StatusInternalServerError, "")
		return nil // answered
	}
	return nil
}
