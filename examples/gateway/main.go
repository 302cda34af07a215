// Command gateway builds the host of ply.yaml in Go — the same plugins,
// options, routes and address — plus one custom plugin: "visits", which
// counts requests per route in a key-value bucket on the embedded NATS
// server, and a route that shows the counts; and a job queue, "reports"
// (POST /reports enqueues one; {"name": "q3", "failFirst": true} makes one
// that is dead-lettered, to retry from the admin page). Stop `ply run
// examples/gateway/ply.yaml` first: both listen on 127.0.0.1:8080.
//
//	go run ./examples/gateway                        # -admin 127.0.0.1:9091 adds the admin page
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/plykit/ply"
	"github.com/plykit/ply/admin"
	"github.com/plykit/ply/backbone"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/internal/adminwire"
	"github.com/plykit/ply/jobqueue"
	"github.com/plykit/ply/kv"
	"github.com/plykit/ply/middleware"
	"github.com/plykit/ply/stock"
)

// Visits counts calls per route in a KV bucket; it is a plugin that
// depends on the NATS backbone and wraps every HTTP route.
type Visits struct {
	store *kv.Store
}

var visitsKey = ply.NewKey[*Visits]("visits.counter")

func (v *Visits) Info() ply.Info {
	return ply.Info{Name: "visits", Version: "1.0.0", Priority: ply.Business, Kinds: []ply.Kind{ply.KindHTTP},
		Requires: []ply.Dependency{{Name: "backbone", Constraint: "^0.1"}}, Description: "counts calls per route in NATS KV"}
}

func (v *Visits) Provision(ctx context.Context, s *ply.Setup) error {
	js, err := ply.Lookup(s, backbone.JetStream)
	if err != nil {
		return err
	}
	if v.store, err = kv.New(ctx, js, "gateway/visits"); err != nil {
		return err
	}
	return ply.Provide(s, visitsKey, v)
}

// Wrap counts every call of every HTTP route, after the inner layers ran.
func (v *Visits) Wrap(_ context.Context, t ply.Target) (ply.Wrap, error) {
	route := t.Module.Name + "." + keyOf(t.Handler.Name) // a valid KV key per route
	return ply.Wrap{After: func(ctx context.Context, _ *ply.Call, err error, _ bool) error {
		if incErr := v.increment(ctx, route); incErr != nil {
			slog.Warn("visits: count not stored", "route", route, "err", incErr)
		}
		return err
	}}, nil
}

// increment adds one to a counter with compare-and-set, retrying on races.
func (v *Visits) increment(ctx context.Context, key string) error {
	for {
		e, err := v.store.Get(ctx, key)
		if errors.Is(err, kv.ErrNotFound) {
			if _, err = v.store.Create(ctx, key, []byte("1")); !errors.Is(err, kv.ErrExists) {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		n, _ := strconv.Atoi(string(e.Value))
		if _, err = v.store.Update(ctx, key, []byte(strconv.Itoa(n+1)), e.Revision); !errors.Is(err, kv.ErrConflict) {
			return err
		}
	}
}

// counts returns every route's count.
func (v *Visits) counts(ctx context.Context) (map[string]int, error) {
	keys, err := v.store.Keys(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(keys))
	for _, k := range keys {
		if e, err := v.store.Get(ctx, k); err == nil {
			out[k], _ = strconv.Atoi(string(e.Value))
		}
	}
	return out, nil
}

func keyOf(route string) string {
	out := make([]byte, 0, len(route))
	for _, c := range []byte(route) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			out = append(out, c)
		default:
			out = append(out, '_')
		}
	}
	return string(out)
}

// place is where a gateway listens and keeps its data: home is ply.yaml's;
// tests use free ports and a directory of their own.
type place struct{ addr, metricsAddr, dataDir string }

var home = place{addr: "127.0.0.1:8080", metricsAddr: "127.0.0.1:9090"}

func main() {
	adminAddr := flag.String("admin", "", "serve the admin page on this address (loopback), e.g. 127.0.0.1:9091; its login URL is printed")
	flag.Parse()
	if err := run(*adminAddr); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

// gateway returns the host of ply.yaml — the same plugins with the same
// options, the same module and routes at the same address — plus the
// visits plugin and its GET /api/visits route. TestSameAsYAML keeps the two
// the same. metrics has the OpenTelemetry providers and the Prometheus
// endpoint that the program wires (see [telemetry]), as ply run does.
func gateway(metrics stock.MetricsOptions, at place) (*httpserver.Server, *Visits, []ply.Plugin, ply.Module) {
	server := httpserver.New(httpserver.Options{Addr: at.addr, AdminAddr: at.metricsAddr})
	visits := &Visits{}
	plugins := []ply.Plugin{
		server,
		backbone.New(backbone.Options{DataDir: at.dataDir}), // NATS JetStream, embedded in-process: no TCP port
		stock.NewRecover(middleware.RecoverOptions{}),
		stock.NewRequestID(middleware.RequestIDOptions{}),
		stock.NewAccessLog(middleware.AccessLogOptions{}),
		stock.NewAuth(middleware.AuthOptions{Realm: "gateway", APIKeys: []middleware.APIKey{{Name: "demo", Key: "demo-key-0123456789"}}}),
		stock.NewRateLimit(middleware.RateLimitOptions{Rate: 5, Burst: 10}),
		stock.NewCache(middleware.CacheOptions{TTL: 30 * time.Second}),
		stock.NewMetrics(metrics),
		visits,
		jobqueue.NewPlugin(jobqueue.PluginOptions{}), // the reports module's job queue
	}
	public := map[string]any{"auth": &stock.Route{Skip: true}}
	api := ply.Module{Name: "api", Prefix: "/api", Handlers: []ply.Handler{
		{Kind: ply.KindHTTP, Name: "GET /hello", Func: func(_ context.Context, c *ply.Call) error {
			w := c.Response().(http.ResponseWriter)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "public") // authenticated: shared by the cache only when public
			_, err := io.WriteString(w, `{"message":"hello from ply"}`+"\n")
			return err
		}},
		{Kind: ply.KindHTTP, Name: "GET /public", Options: public, Func: func(_ context.Context, c *ply.Call) error {
			w := c.Response().(http.ResponseWriter)
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, err := io.WriteString(w, "no key needed here\n")
			return err
		}},
		{Kind: ply.KindHTTP, Name: "GET /visits", Options: public, Func: func(ctx context.Context, c *ply.Call) error {
			counts, err := visits.counts(ctx)
			if err != nil {
				return err
			}
			w := c.Response().(http.ResponseWriter)
			w.Header().Set("Content-Type", "application/json")
			return json.NewEncoder(w).Encode(counts)
		}},
	}}
	return server, visits, plugins, api
}

func run(adminAddr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	metrics, shutdown, err := telemetry()
	if err != nil {
		return err
	}
	defer shutdown() // after the host stopped
	server, _, plugins, api := gateway(metrics, home)
	opts := []ply.Option{ply.WithModules(api, reports())}
	var page *admin.Plugin
	if adminAddr != "" {
		var logger *slog.Logger
		page, logger, err = withAdmin(admin.Options{Addr: adminAddr})
		if err != nil {
			return err
		}
		plugins = append(plugins, page)
		opts = append(opts, ply.WithLogger(logger))
	}
	h, err := ply.New(plugins, opts...)
	if err != nil {
		return err
	}
	if err := h.Start(ctx); err != nil {
		return err
	}
	url, metricsURL := "http://"+server.Addr().String(), "http://"+server.AdminAddr().String()
	fmt.Printf("serving on %s\ntry:\n  curl -H 'X-API-Key: demo-key-0123456789' %s/api/hello\n  curl %s/api/visits\n  curl %s/metrics\n", url, url, url, metricsURL)
	if page != nil {
		fmt.Printf("admin page: %s\n", page.LoginURL())
	}
	<-ctx.Done()
	return h.Stop(context.WithoutCancel(ctx))
}

// telemetry wires the OpenTelemetry SDK, as the library leaves to the
// program: a MeterProvider read by a Prometheus exporter on a registry of
// its own, served by the metrics plugin on /metrics, and the W3C trace
// context propagator, global, for the event bus. shutdown flushes and stops
// the provider.
func telemetry() (_ stock.MetricsOptions, shutdown func(), _ error) {
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return stock.MetricsOptions{}, nil, err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	otel.SetMeterProvider(mp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	opts := stock.MetricsOptions{MeterProvider: mp, Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}
	return opts, func() { _ = mp.Shutdown(context.Background()) }, nil
}

// Report is the payload of a job of the reports queue.
type Report struct {
	Name string `json:"name"`
	// FailFirst makes the job's first run fail for good, as a report whose
	// data source is down would: it is dead-lettered at once, and succeeds
	// when an operator retries it from the admin page.
	FailFirst bool `json:"failFirst,omitempty"`
}

// reports is the module of the report jobs: POST /reports enqueues one
// (the body is the Report, as JSON), and the job handler "reports" runs
// them through the same plugins' chains as the routes.
func reports() ply.Module {
	return ply.Module{Name: "reports", Handlers: []ply.Handler{
		{Kind: ply.KindHTTP, Name: "POST /reports", Func: func(ctx context.Context, c *ply.Call) error {
			r := c.Request().(*http.Request)
			w := c.Response().(http.ResponseWriter)
			var rep Report
			if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 4096)).Decode(&rep); err != nil || rep.Name == "" {
				http.Error(w, `want a JSON report: {"name": "..."}`, http.StatusBadRequest)
				return nil //nolint:nilerr // answered: a client's bad body is not the handler's error
			}
			q, err := ply.Lookup(c, jobqueue.Key)
			if err != nil {
				return err
			}
			id, err := jobqueue.Enqueue(ctx, q, "reports", rep)
			if err != nil {
				return err
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusAccepted)
			return json.NewEncoder(w).Encode(map[string]string{"job": id})
		}},
		{Kind: ply.KindJob, Name: "reports", Func: func(ctx context.Context, c *ply.Call) error {
			j := c.Request().(*jobqueue.Job)
			rep, err := jobqueue.Decode[Report](j)
			if err != nil {
				return err
			}
			if rep.FailFirst && len(j.History) == 0 {
				return fmt.Errorf("report %s: data source unavailable: %w", rep.Name, jobqueue.ErrPermanent)
			}
			slog.InfoContext(ctx, "report done", "report", rep.Name, "attempt", j.Attempt)
			return nil
		}},
	}}
}

// withAdmin returns the admin page with opts, its logs and the jobs page
// wired, and the host's logger, which writes into the page's logs as well
// as to standard error.
func withAdmin(opts admin.Options) (*admin.Plugin, *slog.Logger, error) {
	logs := admin.NewLogs(slog.NewTextHandler(os.Stderr, nil), 1000)
	opts.Logs, opts.Jobs = logs, adminwire.Jobs
	page, err := admin.New(opts)
	return page, slog.New(logs), err
}
