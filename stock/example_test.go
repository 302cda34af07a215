package stock_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/middleware"
	"github.com/plykit/ply/stock"
)

// Stock plugins registered in any order take their places by band: the
// access log outside the rate limit, the rate limit outside auth, the
// cache inside. Per-route options (auth's skip) leave a layer out of one
// route's chain.
func Example() {
	hello := func(_ context.Context, c *ply.Call) error {
		c.Response().(http.ResponseWriter).WriteHeader(http.StatusNoContent)
		return nil
	}
	plugins := []ply.Plugin{
		stock.NewCache(middleware.CacheOptions{}),
		stock.NewAuth(middleware.AuthOptions{APIKeys: []middleware.APIKey{{Name: "demo", Key: "demo-key-0123456789"}}}),
		stock.NewRateLimit(middleware.RateLimitOptions{Rate: 5, Burst: 10}),
		stock.NewAccessLog(middleware.AccessLogOptions{}),
		stock.NewRecover(middleware.RecoverOptions{}),
		httpserver.New(httpserver.Options{Addr: "127.0.0.1:0"}),
	}
	h, err := ply.New(plugins, ply.WithLogger(slog.New(slog.DiscardHandler)),
		ply.WithModules(ply.Module{Name: "api", Prefix: "/api", Handlers: []ply.Handler{
			{Kind: ply.KindHTTP, Name: "GET /hello", Func: hello},
			{Kind: ply.KindHTTP, Name: "GET /public", Func: hello,
				Options: map[string]any{"auth": &stock.Route{Skip: true}}},
		}}))
	if err != nil {
		panic(err)
	}
	chains, err := h.Preview(context.Background()) // explain without serving
	if err != nil {
		panic(err)
	}
	for _, ch := range chains {
		fmt.Print(ch.Explain().Handler, ":")
		for _, step := range ch.Explain().Steps {
			fmt.Print(" ", step.Plugin.Name)
		}
		fmt.Println()
	}
	// Output:
	// api/GET /hello: recover accesslog ratelimit auth cache
	// api/GET /public: recover accesslog ratelimit cache
}
