package middleware_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/plykit/ply/middleware"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// stack hand-wires the stock layers on net/http, outermost first: recover, request
// ID, access log (to io.Discard), auth (API key), rate limit (far above the load),
// cache (requests send no-store, so every call takes the miss path) and metrics.
func stack(b *testing.B, mp metric.MeterProvider, app http.Handler) http.Handler {
	b.Helper()
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil)) //nolint:sloglint // the access log's cost includes formatting each record, which slog.DiscardHandler skips
	auth := must(middleware.NewAuth(middleware.AuthOptions{
		APIKeys: []middleware.APIKey{{Name: "bench", Key: "bench-key-0123456789", Scopes: []string{"read"}}},
	}, nil, logger))(b)
	rl := must(middleware.NewRateLimit(middleware.RateLimitOptions{Rate: 1e9, Burst: 1e9}, nil))(b)
	b.Cleanup(func() { closeOK(b, rl) })
	cache := must(middleware.NewCache(middleware.CacheOptions{}))(b)
	b.Cleanup(func() { closeOK(b, cache) })
	layers := []func(http.Handler) http.Handler{
		must(middleware.NewRecover(middleware.RecoverOptions{}, logger))(b),
		must(middleware.NewRequestID(middleware.RequestIDOptions{}))(b),
		must(middleware.NewAccessLog(middleware.AccessLogOptions{}, logger))(b),
		auth.Middleware(),
		rl.Middleware(),
		cache.Middleware(),
		must(middleware.NewMetrics(middleware.MetricsOptions{}, mp))(b),
	}
	h := app
	for i := len(layers) - 1; i >= 0; i-- {
		h = layers[i](h)
	}
	return h
}

func BenchmarkStack(b *testing.B) {
	app := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "hello")
	})
	req := httptest.NewRequestWithContext(b.Context(), http.MethodGet, "/items/1?x=1", nil)
	req.Header.Set("X-API-Key", "bench-key-0123456789")
	req.Header.Set("Cache-Control", "no-store")
	run := func(b *testing.B, h http.Handler) {
		b.Helper()
		b.ReportAllocs()
		for b.Loop() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	}
	b.Run("handler", func(b *testing.B) { run(b, app) }) // the baseline
	b.Run("stack/noop-meter", func(b *testing.B) { run(b, stack(b, noop.NewMeterProvider(), app)) })
	b.Run("stack/sdk-meter", func(b *testing.B) {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		b.Cleanup(func() { _ = mp.Shutdown(b.Context()) })
		run(b, stack(b, mp, app))
	})
}

// BenchmarkLayer measures each stock layer alone around the same handler, beside
// the bare handler, to show what each one costs.
func BenchmarkLayer(b *testing.B) {
	app := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello") })
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil)) //nolint:sloglint // the access log's cost includes formatting each record, which slog.DiscardHandler skips
	auth := must(middleware.NewAuth(middleware.AuthOptions{
		APIKeys: []middleware.APIKey{{Name: "bench", Key: "bench-key-0123456789"}},
	}, nil, logger))(b)
	rl := must(middleware.NewRateLimit(middleware.RateLimitOptions{Rate: 1e9, Burst: 1e9}, nil))(b)
	defer closeOK(b, rl)
	cache := must(middleware.NewCache(middleware.CacheOptions{}))(b)
	defer closeOK(b, cache)
	breaker := must(middleware.NewBreaker(middleware.BreakerOptions{}, logger))(b)
	layers := []struct {
		name string
		mw   func(http.Handler) http.Handler
	}{
		{"handler", func(h http.Handler) http.Handler { return h }},
		{"recover", must(middleware.NewRecover(middleware.RecoverOptions{}, logger))(b)},
		{"requestid", must(middleware.NewRequestID(middleware.RequestIDOptions{}))(b)},
		{"accesslog", must(middleware.NewAccessLog(middleware.AccessLogOptions{}, logger))(b)},
		{"auth", auth.Middleware()},
		{"cors", must(middleware.NewCORS(middleware.CORSOptions{}))(b)},
		{"ratelimit", rl.Middleware()},
		{"timeout", must(middleware.NewTimeout(middleware.TimeoutOptions{}))(b)},
		{"cache-hit", func(h http.Handler) http.Handler { // the request has an API key: only public is shared
			return cache.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "public, max-age=3600")
				h.ServeHTTP(w, r)
			}))
		}},
		{"retry", must(middleware.NewRetry(middleware.RetryOptions{}))(b)},
		{"breaker", breaker.Middleware()},
		{"bulkhead", must(middleware.NewBulkhead(middleware.BulkheadOptions{}))(b)},
		{"metrics", must(middleware.NewMetrics(middleware.MetricsOptions{}, noop.NewMeterProvider()))(b)},
		{"errorreport", must(middleware.NewErrorReport(middleware.ErrorReportOptions{}, nil))(b)},
	}
	req := httptest.NewRequestWithContext(b.Context(), http.MethodGet, "/items/1", nil)
	req.Header.Set("X-API-Key", "bench-key-0123456789")
	for _, l := range layers {
		b.Run(l.name, func(b *testing.B) {
			h := l.mw(app)
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
