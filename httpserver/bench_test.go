package httpserver_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/plytest"
)

// nopWriter is a ResponseWriter that costs nothing, so the benchmark
// measures the layers.
type nopWriter struct{ h http.Header }

func (w nopWriter) Header() http.Header          { return w.h }
func (nopWriter) Write(p []byte) (int, error)    { return len(p), nil }
func (nopWriter) WriteHeader(int)                {}
func passThrough(next http.Handler) http.Handler { return http.HandlerFunc(next.ServeHTTP) }

// BenchmarkAdapter compares depth net/http middlewares adapted with
// [httpserver.Layer] and served by [httpserver.Handler] (impl=ply) with the
// same middlewares composed by hand around the handler (impl=nethttp), the
// baseline.
func BenchmarkAdapter(b *testing.B) {
	ok := func(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }
	for _, depth := range []int{1, 5} {
		var ps []ply.Plugin
		var hand http.Handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { ok(w) })
		for i := range depth {
			ps = append(ps, plugin(fmt.Sprint("l", i), ply.Security+i, httpserver.Layer(passThrough)))
			hand = passThrough(hand)
		}
		h := plytest.New(b, ps, ply.WithLogger(discard()), ply.WithModules(ply.Module{Name: "api", Handlers: []ply.Handler{{Kind: ply.KindHTTP, Name: "GET /x",
			Func: func(_ context.Context, c *ply.Call) error { ok(c.Response().(http.ResponseWriter)); return nil }}}}))
		ch, err := h.Chain("api", "GET /x")
		if err != nil {
			b.Fatal(err)
		}
		r := httptest.NewRequestWithContext(b.Context(), http.MethodGet, "/x", nil)
		w := nopWriter{h: http.Header{}}
		for _, impl := range []struct {
			name string
			h    http.Handler
		}{{"ply", httpserver.Handler(ch)}, {"nethttp", hand}} {
			b.Run(fmt.Sprintf("impl=%s/depth=%d", impl.name, depth), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					impl.h.ServeHTTP(w, r)
				}
			})
		}
	}
}
