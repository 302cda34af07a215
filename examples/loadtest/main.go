// Command loadtest compares the full stock chain served by ply with the
// same middleware hand-wired on net/http, on loopback, in one run.
//
//	go run ./examples/loadtest -rounds 4 -duration 5s -workers 32
//
// Both servers run in this process with the same libraries and options:
// recover, request id, access log to io.Discard, auth with an API key,
// rate limit with a very high limit, the cache's miss path (requests send
// Cache-Control: no-store) and metrics; ply-admin adds the admin page
// (ply run --admin), sampling one call in 100. Rounds alternate between the two so
// drift on a shared machine hits both alike. It prints requests/s and
// latency percentiles per variant and the ratios ply/net/http.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/plykit/ply"
	"github.com/plykit/ply/admin"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/middleware"
	"github.com/plykit/ply/stock"
)

const apiKey = "load-test-key-0123456789" //nolint:gosec // the key of this process's own test servers, guarding nothing

func options() (middleware.AuthOptions, middleware.RateLimitOptions, middleware.CacheOptions) {
	return middleware.AuthOptions{APIKeys: []middleware.APIKey{{Name: "load", Key: apiKey}}},
		middleware.RateLimitOptions{Rate: 1e9, Burst: 1e9},
		middleware.CacheOptions{}
}

func hello(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"message":"hello"}`)
}

// handWired composes the same middleware by hand, outermost first.
func handWired(logger *slog.Logger) (http.Handler, func(), error) {
	authOpts, rlOpts, cacheOpts := options()
	rec, err := middleware.NewRecover(middleware.RecoverOptions{}, logger)
	if err != nil {
		return nil, nil, err
	}
	rid, err := middleware.NewRequestID(middleware.RequestIDOptions{})
	if err != nil {
		return nil, nil, err
	}
	alog, err := middleware.NewAccessLog(middleware.AccessLogOptions{}, logger)
	if err != nil {
		return nil, nil, err
	}
	auth, err := middleware.NewAuth(authOpts, http.DefaultClient, logger)
	if err != nil {
		return nil, nil, err
	}
	rl, err := middleware.NewRateLimit(rlOpts, time.Now)
	if err != nil {
		return nil, nil, err
	}
	cache, err := middleware.NewCache(cacheOpts)
	if err != nil {
		return nil, nil, err
	}
	mp, err := meterProvider()
	if err != nil {
		return nil, nil, err
	}
	metrics, err := middleware.NewMetrics(middleware.MetricsOptions{}, mp)
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	// The same order as ply's chain: recover 50, requestid 60, metrics 70,
	// accesslog 80, ratelimit 95, auth 100, cache 400.
	mux.Handle("GET /api/hello", rec(rid(metrics(alog(rl.Middleware()(auth.Middleware()(cache.Middleware()(http.HandlerFunc(hello)))))))))
	// The middleware's Close only stops background clean-up; at exit nothing
	// is left to report.
	closeAll := func() { _ = auth.Close(); _ = rl.Close(); _ = cache.Close(); _ = mp.Shutdown(context.Background()) }
	return mux, closeAll, nil
}

// meterProvider is the metrics pipeline of both sides, as the ply command
// wires it: an SDK MeterProvider aggregating for a Prometheus exporter on
// a registry of its own.
func meterProvider() (*sdkmetric.MeterProvider, error) {
	exporter, err := otelprom.New(otelprom.WithRegisterer(prometheus.NewRegistry()))
	if err != nil {
		return nil, err
	}
	return sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter)), nil
}

// plyHost builds the same chain as a ply host with the stock plugins;
// layers says whether the metrics plugin also records every layer. stop
// stops the host, then its MeterProvider.
func plyHost(ctx context.Context, logger *slog.Logger, layers bool, extra ...ply.Plugin) (stop func(), _ *httpserver.Server, _ error) {
	authOpts, rlOpts, cacheOpts := options()
	mp, err := meterProvider()
	if err != nil {
		return nil, nil, err
	}
	srv := httpserver.New(httpserver.Options{Addr: "127.0.0.1:0"})
	h, err := ply.New(append([]ply.Plugin{
		srv,
		stock.NewRecover(middleware.RecoverOptions{}),
		stock.NewRequestID(middleware.RequestIDOptions{}),
		stock.NewAccessLog(middleware.AccessLogOptions{}),
		stock.NewAuth(authOpts),
		stock.NewRateLimit(rlOpts),
		stock.NewCache(cacheOpts),
		stock.NewMetrics(stock.MetricsOptions{Layers: &layers, MeterProvider: mp}),
	}, extra...), ply.WithLogger(logger), ply.WithModules(ply.Module{Name: "api", Prefix: "/api", Handlers: []ply.Handler{{
		Kind: ply.KindHTTP, Name: "GET /hello",
		Func: func(_ context.Context, c *ply.Call) error {
			hello(c.Response().(http.ResponseWriter), c.Request().(*http.Request))
			return nil
		},
	}}}))
	if err != nil {
		_ = mp.Shutdown(ctx)
		return nil, nil, err
	}
	stop = func() {
		_ = h.Stop(context.WithoutCancel(ctx)) // at exit: nothing left to report to
		_ = mp.Shutdown(context.WithoutCancel(ctx))
	}
	if err := h.Start(ctx); err != nil {
		_ = mp.Shutdown(ctx)
		return nil, nil, err
	}
	return stop, srv, nil
}

type result struct {
	requests int64
	errors   int64
	elapsed  time.Duration
	lat      []time.Duration
}

// load sends GET requests from workers for d and records each latency.
func load(ctx context.Context, url string, workers int, d time.Duration) result {
	tr := &http.Transport{MaxIdleConnsPerHost: workers, DialContext: (&net.Dialer{}).DialContext}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var reqs, errs atomic.Int64
	lats := make([][]time.Duration, workers)
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				req.Header.Set("X-API-Key", apiKey)
				req.Header.Set("Cache-Control", "no-store")
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					errs.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close() // drained: only the status counts
				if resp.StatusCode != http.StatusOK {
					errs.Add(1)
					continue
				}
				lats[w] = append(lats[w], time.Since(t0))
				reqs.Add(1)
			}
		})
	}
	wg.Wait()
	r := result{requests: reqs.Load(), errors: errs.Load(), elapsed: time.Since(start)}
	for _, l := range lats {
		r.lat = append(r.lat, l...)
	}
	return r
}

func pct(l []time.Duration, p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	return l[int(float64(len(l)-1)*p)]
}

func main() {
	rounds := flag.Int("rounds", 4, "rounds per variant, alternating")
	only := flag.String("only", "", "run only these variants, comma-separated (net/http, ply, ply-bare, ply-admin); default all")
	duration := flag.Duration("duration", 5*time.Second, "length of one round")
	workers := flag.Int("workers", 32, "concurrent clients")
	flag.Parse()
	if err := run(context.Background(), *rounds, *duration, *workers, *only); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, rounds int, d time.Duration, workers int, only string) error {
	// Not slog.DiscardHandler: it is never enabled, and the access log would
	// skip formatting its line, a cost both servers are measured with.
	logger := slog.New(slog.NewTextHandler(io.Discard, nil)) //nolint:sloglint // the access log's formatting is part of the cost measured
	hand, closeHand, err := handWired(logger)
	if err != nil {
		return err
	}
	defer closeHand()
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	plain := &http.Server{Handler: hand, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute} // as ply's server
	go func() { _ = plain.Serve(ln) }()
	defer func() { _ = plain.Close() }() // at exit, after the results

	stopPly, srv, err := plyHost(ctx, logger, true)
	if err != nil {
		return err
	}
	defer stopPly() // at exit, after the results
	stopBare, bareSrv, err := plyHost(ctx, logger, false)
	if err != nil {
		return err
	}
	defer stopBare() // at exit, after the results
	// The admin page on, as ply run --admin has it: the host's logs teed
	// into the page, every layer measured, one call in 100 sampled.
	logs := admin.NewLogs(logger.Handler(), 1000)
	page, err := admin.New(admin.Options{Addr: "127.0.0.1:0", SampleEvery: 100, Logs: logs})
	if err != nil {
		return err
	}
	stopAdmin, adminSrv, err := plyHost(ctx, slog.New(logs), true, page)
	if err != nil {
		return err
	}
	defer stopAdmin() // at exit, after the results

	urls := map[string]string{
		"net/http":  "http://" + ln.Addr().String() + "/api/hello",
		"ply":       "http://" + srv.Addr().String() + "/api/hello",
		"ply-bare":  "http://" + bareSrv.Addr().String() + "/api/hello",
		"ply-admin": "http://" + adminSrv.Addr().String() + "/api/hello",
	}
	order := []string{"net/http", "ply", "ply-bare", "ply-admin"}
	if only != "" {
		order = strings.Split(only, ",")
		for _, name := range order {
			if urls[name] == "" {
				return fmt.Errorf("-only: no variant %q", name)
			}
		}
	}
	perRound := map[string][]float64{} // requests/s of each round, by variant
	for _, name := range order {       // warm up and check each answers 200
		u := urls[name]
		if r := load(ctx, u, 4, 300*time.Millisecond); r.requests == 0 || r.errors > 0 {
			return fmt.Errorf("%s: %d ok, %d failed in warm-up", name, r.requests, r.errors)
		}
	}
	total := map[string]*result{"net/http": {}, "ply": {}, "ply-bare": {}, "ply-admin": {}}
	for i := range len(order) * rounds {
		round := i / len(order)
		name := order[(i+round)%len(order)] // rotate who goes first each round
		r := load(ctx, urls[name], workers, d)
		t := total[name]
		t.requests += r.requests
		t.errors += r.errors
		t.elapsed += r.elapsed
		t.lat = append(t.lat, r.lat...)
		perRound[name] = append(perRound[name], float64(r.requests)/r.elapsed.Seconds())
	}
	fmt.Printf("%d rounds of %v per variant, %d workers, GOMAXPROCS shared by servers and load\n\n", rounds, d, workers)
	fmt.Printf("%-10s %12s %8s %10s %10s %10s\n", "variant", "requests/s", "errors", "p50", "p99", "p99.9")
	rps := map[string]float64{}
	p99 := map[string]time.Duration{}
	for _, name := range order {
		t := total[name]
		if t.requests == 0 {
			continue
		}
		slices.Sort(t.lat)
		rps[name] = float64(t.requests) / t.elapsed.Seconds()
		p99[name] = pct(t.lat, 0.99)
		fmt.Printf("%-10s %12.0f %8d %10v %10v %10v\n", name, rps[name], t.errors, pct(t.lat, 0.5), p99[name], pct(t.lat, 0.999))
	}
	fmt.Println("\nply: the stock plugins, with per-layer metrics; ply-bare: the same without them (metrics layers: false);")
	fmt.Println("ply-admin: ply with the admin page on, sampling 1 call in 100. Ratios: over the whole run, and the median of")
	fmt.Println("the rounds' ratios (each round runs every variant back to back, so drift on a shared machine cancels out)")
	for _, pair := range [][3]string{{"ply", "net/http", ">= 0.9"}, {"ply-bare", "net/http", ">= 0.9"}, {"ply-admin", "ply", ">= 0.97"}} {
		a, b := perRound[pair[0]], perRound[pair[1]]
		if len(a) == 0 || len(b) == 0 {
			continue
		}
		ratios := make([]float64, min(len(a), len(b)))
		for i := range ratios {
			ratios[i] = a[i] / b[i]
		}
		slices.Sort(ratios)
		fmt.Printf("%s / %s: requests/s %.3f, median of rounds %.3f (target %s); p99 %.3f\n", pair[0], pair[1],
			rps[pair[0]]/rps[pair[1]], ratios[len(ratios)/2], pair[2], float64(p99[pair[0]])/float64(p99[pair[1]]))
	}
	if total["ply"].errors+total["ply-bare"].errors+total["net/http"].errors+total["ply-admin"].errors > 0 {
		return errors.New("some requests failed")
	}
	return nil
}
