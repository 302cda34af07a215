package stock_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/stock"
)

// A program that uses the stock plugins in Go wires the OpenTelemetry SDK
// itself, as the ply command does: here a MeterProvider read by a
// Prometheus exporter, whose registry the metrics plugin serves on
// /metrics, and a TracerProvider (give it an exporter:
// sdktrace.WithBatcher(…)) set as the global one with the W3C propagator,
// for the tracing plugin and the event bus.
func ExampleNewMetrics() {
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		panic(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer func() { _ = mp.Shutdown(context.Background()) }() // after the host stops
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))

	srv := httpserver.New(httpserver.Options{Addr: "127.0.0.1:0"})
	h, err := ply.New([]ply.Plugin{
		srv,
		stock.NewMetrics(stock.MetricsOptions{MeterProvider: mp, Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}),
		stock.NewTracing(stock.TracingOptions{}), // the global providers
	}, ply.WithLogger(slog.New(slog.DiscardHandler)), ply.WithModules(ply.Module{Name: "api", Handlers: []ply.Handler{
		{Kind: ply.KindHTTP, Name: "GET /hello", Func: func(context.Context, *ply.Call) error { return nil }},
	}}))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := h.Start(ctx); err != nil {
		panic(err)
	}
	defer func() { _ = h.Stop(ctx) }()

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(path string) string {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+srv.Addr().String()+path, nil)
		if err != nil {
			panic(err)
		}
		res, err := client.Do(req)
		if err != nil {
			panic(err)
		}
		defer func() { _ = res.Body.Close() }()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			panic(err)
		}
		return string(body)
	}
	get("/hello")
	for l := range strings.Lines(get("/metrics")) {
		if strings.HasPrefix(l, "http_server_requests_total{") && strings.Contains(l, `http_route="GET /hello"`) {
			_, n, _ := strings.Cut(strings.TrimSpace(l), "} ")
			fmt.Println("GET /hello served:", n)
		}
	}
	// Output:
	// GET /hello served: 1
}
