package httpserver_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
)

// teapot is an error that carries its HTTP status.
type teapot struct{}

func (teapot) Error() string   { return "no coffee here" }
func (teapot) StatusCode() int { return http.StatusTeapot }

// A host serving two routes behind plain net/http middleware. A handler
// writes through the call's http.ResponseWriter, or returns an error that
// the server answers with its status (see [httpserver.Status]) where the
// middleware outside can see it.
func Example() {
	poweredBy := func(next http.Handler) http.Handler { // any func(http.Handler) http.Handler
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Powered-By", "ply")
			next.ServeHTTP(w, r)
		})
	}
	header := ply.Func{
		Meta: ply.Info{Name: "powered-by", Version: "1.0.0", Kinds: []ply.Kind{ply.KindHTTP}},
		OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
			return ply.Wrap{Layer: httpserver.Layer(poweredBy)}, nil
		},
	}
	hello := func(_ context.Context, c *ply.Call) error {
		w := c.Response().(http.ResponseWriter)
		_, err := io.WriteString(w, "hello\n")
		return err
	}
	brew := func(context.Context, *ply.Call) error { return teapot{} }

	srv := httpserver.New(httpserver.Options{Addr: "127.0.0.1:0"}) // any free port
	h, err := ply.New([]ply.Plugin{srv, header}, ply.WithLogger(slog.New(slog.DiscardHandler)),
		ply.WithModules(ply.Module{Name: "api", Prefix: "/api", Handlers: []ply.Handler{
			{Kind: ply.KindHTTP, Name: "GET /hello", Func: hello},
			{Kind: ply.KindHTTP, Name: "GET /coffee", Func: brew},
		}}))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := h.Start(ctx); err != nil {
		panic(err)
	}
	defer func() { _ = h.Stop(ctx) }()

	for _, path := range []string{"/api/hello", "/api/coffee"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+srv.Addr().String()+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		_ = resp.Body.Close()
		fmt.Println(path, resp.StatusCode, resp.Header.Get("X-Powered-By"))
	}
	// Output:
	// /api/hello 200 ply
	// /api/coffee 418 ply
}
