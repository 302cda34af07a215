package tenant_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/plykit/ply"
	"github.com/plykit/ply/tenant"
)

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Two tenants, read from a header: "acme" runs the host's chain, "solo"
// leaves the audit plugin out. Any other tenant is refused.
func ExampleHeader() {
	audit := ply.Func{Meta: ply.Info{Name: "audit", Version: "1.0.0"}, OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
		return ply.Wrap{Layer: func(ctx context.Context, c *ply.Call, next ply.Next) error {
			t, _ := c.Tenant()
			fmt.Println("audit", t)
			return next.Run(ctx)
		}}, nil
	}}
	h, _ := ply.New([]ply.Plugin{audit}, ply.WithLogger(slogDiscard()),
		ply.WithTenants(tenant.Header("X-Tenant"),
			ply.Tenant{Name: "acme"},
			ply.Tenant{Name: "solo", Plugins: map[string]ply.TenantPlugin{"audit": {Disabled: true}}}),
		ply.WithModules(ply.Module{Name: "api", Handlers: []ply.Handler{{Kind: ply.KindHTTP, Name: "GET /", Func: func(ctx context.Context, _ *ply.Call) error {
			t, _ := ply.TenantOf(ctx)
			fmt.Println("handler", t)
			return nil
		}}}}))
	ctx := context.Background()
	if err := h.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = h.Stop(ctx) }()
	ch, _ := h.Chain("api", "GET /")
	for _, name := range []string{"acme", "solo", "evil"} {
		r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
		r.Header.Set("X-Tenant", name)
		if _, err := ch.Serve(ctx, r, httptest.NewRecorder()); err != nil {
			fmt.Println(err)
		}
	}
	// Output:
	// audit acme
	// handler acme
	// handler solo
	// ply: unknown tenant "evil"
}
