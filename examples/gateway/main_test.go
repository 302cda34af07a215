package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply"
	"github.com/plykit/ply/backbone"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/internal/config"
	"github.com/plykit/ply/internal/options"
	"github.com/plykit/ply/plytest"
	"github.com/plykit/ply/stock"
)

// TestSameAsYAML keeps this command the host of ply.yaml: the same plugins
// in the same orders with the same options, and the same module and
// routes at the same address; only the visits plugin and its route are
// added.
func TestSameAsYAML(t *testing.T) {
	const file = "ply.yaml"
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cat := config.Catalog(stock.Catalog())
	cat["backbone"] = func() ply.Plugin { return backbone.New(backbone.Options{}) }
	cfg, err := config.Load(file, data, cat, "httpserver")
	if err != nil {
		t.Fatal(err)
	}
	fromYAML, err := ply.New(cfg.Plugins, cfg.Options...)
	if err != nil {
		t.Fatal(err)
	}
	yamlPlan, err := fromYAML.Plan()
	if err != nil {
		t.Fatal(err)
	}
	_, _, plugins, api := gateway(stock.MetricsOptions{}, home)
	inGo, err := ply.New(plugins, ply.WithModules(api))
	if err != nil {
		t.Fatal(err)
	}
	goPlan, err := inGo.Plan()
	if err != nil {
		t.Fatal(err)
	}

	for _, kind := range []ply.OrderKind{ply.LifecycleOrder, ply.ChainOrder} {
		if diff := cmp.Diff(order(yamlPlan, kind), order(goPlan, kind, "visits", "jobs")); diff != "" {
			t.Errorf("%s order (-ply.yaml +Go, without visits and jobs):\n%s", kind, diff)
		}
	}

	byName := map[string]ply.Plugin{}
	for _, p := range plugins {
		byName[p.Info().Name] = p
	}
	for i, p := range cfg.File.Plugins {
		goPlugin, ok := byName[p.Name]
		if !ok {
			t.Errorf("ply.yaml has plugin %s, the Go host has not", p.Name)
			continue
		}
		c, ok := goPlugin.(ply.Configurable)
		if !ok {
			continue
		}
		fromFile := reflect.New(reflect.TypeOf(c.Options()).Elem()).Interface()
		if p.Options != nil {
			src := options.Source{File: file, Data: data, Path: fmt.Sprintf("$.plugins[%d].options", i)}
			if problems := options.Load(src, fromFile); len(problems) > 0 {
				t.Fatalf("plugin %s: options: %v", p.Name, problems)
			}
		}
		if diff := cmp.Diff(fromFile, c.Options()); diff != "" {
			t.Errorf("plugin %s options (-ply.yaml +Go):\n%s", p.Name, diff)
		}
	}

	if len(cfg.File.Modules) != 1 {
		t.Fatalf("ply.yaml has %d modules, want 1", len(cfg.File.Modules))
	}
	m := cfg.File.Modules[0]
	if m.Name != api.Name || m.Prefix != api.Prefix {
		t.Errorf("module %s at %q in ply.yaml, %s at %q in Go", m.Name, m.Prefix, api.Name, api.Prefix)
	}
	var yamlRoutes, goRoutes []string
	for _, r := range m.Routes {
		yamlRoutes = append(yamlRoutes, route(r.Route, r.Options))
	}
	for _, h := range api.Handlers {
		if h.Name != "GET /visits" {
			goRoutes = append(goRoutes, route(h.Name, h.Options))
		}
	}
	if diff := cmp.Diff(yamlRoutes, goRoutes); diff != "" {
		t.Errorf("routes (-ply.yaml +Go, without /visits):\n%s", diff)
	}
}

// order is a plan's order as name@priority, without the plugins skip.
func order(p *ply.Plan, kind ply.OrderKind, skip ...string) []string {
	var out []string
	for _, info := range p.Order(kind) {
		if !slices.Contains(skip, info.Name) {
			out = append(out, fmt.Sprintf("%s@%d", info.Name, info.Priority))
		}
	}
	return out
}

// route is a route's name with its options per plugin, as JSON.
func route(name string, opts map[string]any) string {
	var plugins []string
	for p, o := range opts {
		b, _ := json.Marshal(o)
		plugins = append(plugins, p+": "+string(b))
	}
	slices.Sort(plugins)
	return name + " {" + strings.Join(plugins, ", ") + "}"
}

// The program's telemetry is what the metrics plugin serves on /metrics:
// the request series of the SDK's Prometheus exporter.
func TestTelemetryServesMetrics(t *testing.T) {
	metrics, shutdown, err := telemetry()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(shutdown) // after the host stops
	srv := httpserver.New(httpserver.Options{Addr: "127.0.0.1:0"})
	plytest.New(t, []ply.Plugin{srv, stock.NewMetrics(metrics)}, ply.WithModules(ply.Module{Name: "api", Handlers: []ply.Handler{
		{Kind: ply.KindHTTP, Name: "GET /hello", Func: func(context.Context, *ply.Call) error { return nil }},
	}}))
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(path string) string {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+srv.Addr().String()+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = res.Body.Close() }()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(body)
	}
	get("/hello")
	if scrape := get("/metrics"); !strings.Contains(scrape, `http_server_requests_total{`) {
		t.Errorf("no http_server_requests_total in the scrape:\n%s", scrape)
	}
}
