package middleware_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/plykit/ply/middleware"
)

// BenchmarkCacheHit measures a hit beside its baseline: the handler that the
// hit replaces, writing the same headers and body itself.
func BenchmarkCacheHit(b *testing.B) {
	app := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "max-age=3600")
		h.Set("Content-Type", "text/plain")
		h.Set("Etag", `"v1"`)
		_, _ = io.WriteString(w, "hello")
	})
	req := httptest.NewRequestWithContext(b.Context(), http.MethodGet, "/items/1?a=1&b=2", nil)
	run := func(b *testing.B, h http.Handler) {
		b.Helper()
		h.ServeHTTP(httptest.NewRecorder(), req) // fills the cache
		b.ReportAllocs()
		for b.Loop() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || rec.Body.Len() != 5 {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	}
	b.Run("handler", func(b *testing.B) { run(b, app) }) // the baseline
	b.Run("cache-hit", func(b *testing.B) {
		c := must(middleware.NewCache(middleware.CacheOptions{}))(b)
		b.Cleanup(func() { closeOK(b, c) })
		run(b, c.Middleware()(app))
		if c.Stats().Hits == 0 {
			b.Fatal("no hit")
		}
	})
}
