package stock

import (
	"context"
	"fmt"
	"net/http"

	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/middleware"
)

// Version is the version of every stock plugin.
const Version = "0.1.0"

// Route are the options every stock plugin takes per module or route.
type Route struct {
	// Skip leaves the route (or the module) out of this plugin's chain.
	Skip bool `json:"skip,omitempty"`
}

// layered is the part every stock HTTP plugin shares: one layer, built in
// Provision, wrapped around every HTTP route that does not skip it.
type layered struct {
	layer ply.Layer
}

// HandlerOptions returns the per-route options every stock plugin takes.
func (l *layered) HandlerOptions() any { return &Route{} }

// Wrap wraps every HTTP route with the plugin's layer, unless the route's
// options say skip.
func (l *layered) Wrap(_ context.Context, t ply.Target) (ply.Wrap, error) {
	if r, ok := t.Options.(*Route); ok && r.Skip {
		return ply.Wrap{}, nil
	}
	return ply.Wrap{Layer: l.layer}, nil
}

// use builds the layer from net/http middleware.
func (l *layered) use(mw func(http.Handler) http.Handler) { l.layer = httpserver.Layer(mw) }

// takeOver hands the state that the instance being replaced exported to
// adopt, for ImportState; a state of another type is an error naming both.
func takeOver[T any](me ply.Info, state any, from ply.Info, adopt func(T)) error {
	old, ok := state.(T)
	if !ok {
		return fmt.Errorf("%s: cannot take over the state of %s: got %T, want %T", me.Name, from.ID(), state, old)
	}
	adopt(old)
	return nil
}

func httpInfo(name string, priority int, description string) ply.Info {
	return ply.Info{Name: name, Version: Version, Priority: priority, Kinds: []ply.Kind{ply.KindHTTP}, Description: description}
}

// Catalog returns a constructor for every stock plugin, and for the HTTP
// server, by plugin name. Each builds the plugin with zero options (the
// defaults), for options to be filled from a file; auth needs at least an
// API key or a JWT key source before it starts.
func Catalog() map[string]func() ply.Plugin {
	return map[string]func() ply.Plugin{
		"httpserver":  func() ply.Plugin { return httpserver.New(httpserver.Options{}) },
		"recover":     func() ply.Plugin { return NewRecover(middleware.RecoverOptions{}) },
		"requestid":   func() ply.Plugin { return NewRequestID(middleware.RequestIDOptions{}) },
		"tracing":     func() ply.Plugin { return NewTracing(TracingOptions{}) },
		"metrics":     func() ply.Plugin { return NewMetrics(MetricsOptions{}) },
		"accesslog":   func() ply.Plugin { return NewAccessLog(middleware.AccessLogOptions{}) },
		"errorreport": func() ply.Plugin { return NewErrorReport(middleware.ErrorReportOptions{}) },
		"timeout":     func() ply.Plugin { return NewTimeout(middleware.TimeoutOptions{}) },
		"cors":        func() ply.Plugin { return NewCORS(middleware.CORSOptions{}) },
		"auth":        func() ply.Plugin { return NewAuth(middleware.AuthOptions{}) },
		"ratelimit":   func() ply.Plugin { return NewRateLimit(middleware.RateLimitOptions{}) },
		"breaker":     func() ply.Plugin { return NewBreaker(middleware.BreakerOptions{}) },
		"bulkhead":    func() ply.Plugin { return NewBulkhead(middleware.BulkheadOptions{}) },
		"retry":       func() ply.Plugin { return NewRetry(middleware.RetryOptions{}) },
		"cache":       func() ply.Plugin { return NewCache(middleware.CacheOptions{}) },
		"batch":       func() ply.Plugin { return NewBatching(BatchOptions{}) },
		"pool":        func() ply.Plugin { return NewPools(PoolOptions{}) },
	}
}

// All returns every stock plugin with zero options, outermost first; not
// the HTTP server. Auth's zero options are rejected: set its API keys or
// JWT key source (in code or with [ply.WithOptions]) before starting a host.
func All() []ply.Plugin {
	return []ply.Plugin{
		NewRecover(middleware.RecoverOptions{}),
		NewRequestID(middleware.RequestIDOptions{}),
		NewCORS(middleware.CORSOptions{}),
		NewAuth(middleware.AuthOptions{}),
		NewRateLimit(middleware.RateLimitOptions{}),
		NewMetrics(MetricsOptions{}),
		NewTracing(TracingOptions{}),
		NewAccessLog(middleware.AccessLogOptions{}),
		NewErrorReport(middleware.ErrorReportOptions{}),
		NewTimeout(middleware.TimeoutOptions{}),
		NewBreaker(middleware.BreakerOptions{}),
		NewBulkhead(middleware.BulkheadOptions{}),
		NewRetry(middleware.RetryOptions{}),
		NewCache(middleware.CacheOptions{}),
		NewBatching(BatchOptions{}),
		NewPools(PoolOptions{}),
	}
}
