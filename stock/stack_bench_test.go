package stock_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/middleware"
	"github.com/plykit/ply/plytest"
	"github.com/plykit/ply/stock"
)

const benchKey = "bench-key-0123456789"

// BenchmarkStack serves one request through the full stock chain — recover,
// request id, auth (API key), rate limit (very high), metrics, access log
// (discarded), cache (miss: no-store) — in ply, and through the same
// middleware hand-wired on net/http, on a recorder (no network).
func BenchmarkStack(b *testing.B) {
	// Not slog.DiscardHandler: it is never enabled, and the access log would
	// skip the line this benchmark means to format.
	logger := slog.New(slog.NewTextHandler(io.Discard, nil)) //nolint:sloglint // the access log's formatting is part of the cost measured
	auth := middleware.AuthOptions{APIKeys: []middleware.APIKey{{Name: "b", Key: benchKey}}}
	rl := middleware.RateLimitOptions{Rate: 1e9, Burst: 1e9}
	req := httptest.NewRequestWithContext(b.Context(), http.MethodGet, "/api/hello", nil)
	req.Header.Set("X-API-Key", benchKey)
	req.Header.Set("Cache-Control", "no-store")
	run := func(b *testing.B, h http.Handler) {
		b.Helper()
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
		}
	}
	for _, layers := range []bool{true, false} {
		name := "impl=ply"
		if !layers {
			name = "impl=ply-bare"
		}
		b.Run(name, func(b *testing.B) {
			srv := httpserver.New(httpserver.Options{Addr: "127.0.0.1:0"})
			plytest.New(b, []ply.Plugin{srv, stock.NewRecover(middleware.RecoverOptions{}), stock.NewRequestID(middleware.RequestIDOptions{}),
				stock.NewAuth(auth), stock.NewRateLimit(rl), stock.NewMetrics(withPrometheus(b, stock.MetricsOptions{Layers: &layers})),
				stock.NewAccessLog(middleware.AccessLogOptions{}), stock.NewCache(middleware.CacheOptions{})},
				ply.WithLogger(logger), ply.WithModules(ply.Module{Name: "api", Prefix: "/api", Handlers: []ply.Handler{route("GET /hello", hello)}}))
			run(b, srv.Handler())
		})
	}
	b.Run("impl=nethttp", func(b *testing.B) {
		must := func(mw func(http.Handler) http.Handler, err error) func(http.Handler) http.Handler {
			if err != nil {
				b.Fatal(err)
			}
			return mw
		}
		check := func(err error) {
			if err != nil {
				b.Error(err)
			}
		}
		a, err := middleware.NewAuth(auth, http.DefaultClient, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer func() { check(a.Close()) }()
		r, err := middleware.NewRateLimit(rl, time.Now)
		if err != nil {
			b.Fatal(err)
		}
		defer func() { check(r.Close()) }()
		c, err := middleware.NewCache(middleware.CacheOptions{})
		if err != nil {
			b.Fatal(err)
		}
		defer func() { check(c.Close()) }()
		// The same metrics pipeline as the stock plugin: an SDK MeterProvider
		// aggregating for a Prometheus exporter on a registry of its own.
		exporter, err := otelprom.New(otelprom.WithRegisterer(prometheus.NewRegistry()))
		if err != nil {
			b.Fatal(err)
		}
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
		defer func() { check(mp.Shutdown(context.Background())) }()
		var h http.Handler = http.HandlerFunc(hello)
		h = c.Middleware()(h)
		h = must(middleware.NewAccessLog(middleware.AccessLogOptions{}, logger))(h)
		h = must(middleware.NewMetrics(middleware.MetricsOptions{}, mp))(h)
		h = r.Middleware()(h)
		h = a.Middleware()(h)
		h = must(middleware.NewRequestID(middleware.RequestIDOptions{}))(h)
		h = must(middleware.NewRecover(middleware.RecoverOptions{}, logger))(h)
		mux := http.NewServeMux()
		mux.Handle("GET /api/hello", h)
		run(b, mux)
	})
}
