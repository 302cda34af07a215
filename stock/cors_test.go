package stock_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/middleware"
	"github.com/plykit/ply/option"
	"github.com/plykit/ply/stock"
)

// startHost is serve for a host that may fail to start: it returns the
// start error, or the started host (stopped when the test ends).
func startHost(t *testing.T, plugins []ply.Plugin, handlers []ply.Handler, opts ...ply.Option) (*testHost, error) {
	t.Helper()
	srv := httpserver.New(httpserver.Options{Addr: "127.0.0.1:0"})
	opts = append([]ply.Option{ply.WithModules(ply.Module{Name: "app", Handlers: handlers})}, opts...)
	h, err := ply.New(append([]ply.Plugin{srv}, plugins...), opts...)
	if err != nil {
		t.Fatalf("ply.New: %v", err)
	}
	if err := h.Start(t.Context()); err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		if err := h.Stop(context.WithoutCancel(t.Context())); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	return &testHost{Host: h, base: "http://" + srv.Addr().String(), client: client}, nil
}

// The attack: with credentials allowed for a wildcard that covers any host,
// a page on any site reads responses made with the user's cookies. Each such
// configuration must be refused when the host plans, naming the plugin, the
// field and the fix; before the fix, "https://*" started and reflected
// https://evil.example with Access-Control-Allow-Credentials: true.
func TestCORSCredentialsRefuseAnyHostOrigins(t *testing.T) {
	for _, tt := range []struct {
		origin, attacker string
	}{
		{origin: "https://*", attacker: "https://evil.example"},
		{origin: "http://*", attacker: "http://evil.example"},
		{origin: "*", attacker: "https://evil.example"},
		{origin: "*://app.example.com", attacker: "evil://app.example.com"},
		{origin: "https://*example.com", attacker: "https://evilexample.com"},
		{origin: "https://example.*", attacker: "https://example.evil.net"},
		{origin: "https://*.com", attacker: "https://evil.com"},
		{origin: "null", attacker: "null"},
	} {
		t.Run(tt.origin, func(t *testing.T) {
			opts := middleware.CORSOptions{AllowedOrigins: []string{"https://app.example.com", tt.origin}, AllowCredentials: true}
			h, err := startHost(t, []ply.Plugin{stock.NewCORS(opts)}, []ply.Handler{route("GET /me", hello)})
			if err == nil {
				res, _ := h.do(t, http.MethodGet, "/me", http.Header{"Origin": {tt.attacker}})
				t.Fatalf("host started; Origin %s got Access-Control-Allow-Origin %q, Allow-Credentials %q; want a config error",
					tt.attacker, res.Header.Get("Access-Control-Allow-Origin"), res.Header.Get("Access-Control-Allow-Credentials"))
			}
			ce, ok := errors.AsType[*option.Error](err)
			if !ok {
				t.Fatalf("start error = %v, want a *option.Error", err)
			}
			if ce.Plugin != "cors" || ce.Field != "allowedOrigins[1]" || !strings.Contains(ce.Problem, "allowCredentials: false") {
				t.Errorf("config error = %+v, want plugin cors, field allowedOrigins[1] and the fix", ce)
			}
		})
	}
}

// A subdomain wildcard stays allowed with credentials, and matches only
// subdomains of that domain.
func TestCORSCredentialsSubdomainWildcard(t *testing.T) {
	h := serve(t, []ply.Plugin{stock.NewCORS(middleware.CORSOptions{AllowedOrigins: []string{"https://*.example.com"}, AllowCredentials: true})},
		[]ply.Handler{route("GET /me", hello)})
	for _, tt := range []struct {
		origin  string
		allowed bool
	}{
		{origin: "https://app.example.com", allowed: true},
		{origin: "https://a.b.example.com", allowed: true},
		{origin: "https://evilexample.com"},
		{origin: "https://example.com.evil.net"},
		{origin: "http://app.example.com"},
	} {
		res, _ := h.do(t, http.MethodGet, "/me", http.Header{"Origin": {tt.origin}})
		got := res.Header.Get("Access-Control-Allow-Origin")
		if allowed := got == tt.origin && res.Header.Get("Access-Control-Allow-Credentials") == "true"; allowed != tt.allowed {
			t.Errorf("Origin %s: Access-Control-Allow-Origin %q, allowed %v, want %v", tt.origin, got, allowed, tt.allowed)
		}
	}
}
