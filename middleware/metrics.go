package middleware

import (
	"cmp"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/plykit/ply/internal/httpwriter"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

const instrumentationName = "github.com/plykit/ply/middleware"

// Attribute keys of the metrics and spans.
const (
	attrMethod      = attribute.Key("http.request.method")
	attrRoute       = attribute.Key("http.route")
	attrStatusClass = attribute.Key("http.response.status_class")
	attrStatusCode  = attribute.Key("http.response.status_code")
)

// MetricsOptions configures [NewMetrics]. The zero value is ready to use.
type MetricsOptions struct {
	// Scope is the instrumentation scope (meter name). Default
	// "github.com/plykit/ply/middleware".
	Scope string `json:"scope,omitempty"`
}

// NewMetrics returns a layer that records, with the OpenTelemetry metrics API:
//   - http.server.requests: a counter of requests;
//   - http.server.errors: a counter of responses with a 5xx status (panics included);
//   - http.server.request.duration: a histogram of durations, in seconds;
//   - http.server.active_requests: an up-down counter of requests in flight.
//
// Every instrument carries http.request.method (unknown methods become "_OTHER")
// and http.route, the [http.Request.Pattern] that routed the request ("" outside a
// mux route): never the raw path, so cardinality stays bounded. The counters and
// the histogram also carry http.response.status_code (401, 429…) and
// http.response.status_class ("2xx"…"5xx"). A nil mp means
// the global MeterProvider (otel.GetMeterProvider).
func NewMetrics(opts MetricsOptions, mp metric.MeterProvider) (func(http.Handler) http.Handler, error) {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	meter := mp.Meter(cmp.Or(opts.Scope, instrumentationName))
	requests, err1 := meter.Int64Counter("http.server.requests", metric.WithUnit("{request}"), metric.WithDescription("HTTP requests served."))
	errs, err2 := meter.Int64Counter("http.server.errors", metric.WithUnit("{request}"), metric.WithDescription("HTTP requests answered with a 5xx status."))
	duration, err3 := meter.Float64Histogram("http.server.request.duration", metric.WithUnit("s"), metric.WithDescription("Duration of HTTP requests."),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10))
	active, err4 := meter.Int64UpDownCounter("http.server.active_requests", metric.WithUnit("{request}"), metric.WithDescription("HTTP requests in flight."))
	for _, err := range []error{err1, err2, err3, err4} {
		if err != nil {
			return nil, fmt.Errorf("metrics: create instrument: %w", err)
		}
	}
	attrs := &attrCache{m: make(map[attrKey]metric.MeasurementOption)}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			start := time.Now()
			method := normalizeMethod(r.Method)
			inFlight := attrs.get(attrKey{method: method, route: r.Pattern})
			active.Add(ctx, 1, inFlight)
			sw := httpwriter.New(w, nil)
			status := http.StatusInternalServerError // if the handler panics
			defer func() {
				active.Add(ctx, -1, inFlight)
				done := attrs.get(attrKey{method: method, route: r.Pattern, class: statusClass(status), code: status})
				requests.Add(ctx, 1, done)
				if status >= 500 {
					errs.Add(ctx, 1, done)
				}
				duration.Record(ctx, time.Since(start).Seconds(), done)
			}()
			next.ServeHTTP(sw, r)
			status = cmp.Or(sw.Status(), http.StatusOK)
		})
	}, nil
}

// attrKey identifies a set of metric attributes; class is "" (and code 0) for
// in-flight requests.
type attrKey struct {
	method, route, class string
	code                 int
}

// attrCache holds one measurement option per attribute set, so that recording
// allocates nothing in steady state. It stays small: methods are normalised, routes
// are the mux's patterns, and statuses are the few a route answers.
type attrCache struct {
	mu sync.RWMutex
	m  map[attrKey]metric.MeasurementOption
}

func (c *attrCache) get(k attrKey) metric.MeasurementOption {
	c.mu.RLock()
	opt, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return opt
	}
	kvs := []attribute.KeyValue{attrMethod.String(k.method), attrRoute.String(k.route)}
	if k.class != "" {
		kvs = append(kvs, attrStatusClass.String(k.class), attrStatusCode.Int(k.code))
	}
	opt = metric.WithAttributeSet(attribute.NewSet(kvs...))
	c.mu.Lock()
	c.m[k] = opt
	c.mu.Unlock()
	return opt
}

// normalizeMethod bounds the method attribute to the standard methods.
func normalizeMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

func statusClass(status int) string {
	switch {
	case status < 200:
		return "1xx"
	case status < 300:
		return "2xx"
	case status < 400:
		return "3xx"
	case status < 500:
		return "4xx"
	}
	return "5xx"
}

// TracingOptions configures [NewTracing]. The zero value is ready to use.
type TracingOptions struct {
	// Scope is the instrumentation scope (tracer name). Default
	// "github.com/plykit/ply/middleware".
	Scope string `json:"scope,omitempty"`
}

// NewTracing returns a layer that runs the inner chain in a server span, a child of
// the trace context that prop extracts from the request headers. The span is named
// by the route pattern ("GET /items/{id}"; the method alone outside a mux route),
// carries http.request.method, http.route and http.response.status_code, and has
// status Error on a 5xx response or a panic (which is passed on). A nil tp or prop
// means the global one (otel.GetTracerProvider, otel.GetTextMapPropagator).
func NewTracing(opts TracingOptions, tp trace.TracerProvider, prop propagation.TextMapPropagator) (func(http.Handler) http.Handler, error) {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if prop == nil {
		prop = otel.GetTextMapPropagator()
	}
	tracer := tp.Tracer(cmp.Or(opts.Scope, instrumentationName))
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
			ctx, span := tracer.Start(ctx, spanName(r), trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(attrMethod.String(normalizeMethod(r.Method)), attrRoute.String(r.Pattern)))
			sw := httpwriter.New(w, nil)
			completed := false
			defer func() { // without recover, so that an outer layer sees the panic's own stack
				if !completed {
					span.SetStatus(codes.Error, "panic")
					span.End()
					return
				}
				status := cmp.Or(sw.Status(), http.StatusOK)
				span.SetAttributes(attrStatusCode.Int(status))
				if status >= 500 {
					span.SetStatus(codes.Error, http.StatusText(status))
				}
				span.End()
			}()
			next.ServeHTTP(sw, r.WithContext(ctx))
			completed = true
		})
	}, nil
}

// spanName is the pattern when it names the method ("GET /items/{id}"), else the
// method and the pattern, or the method alone without a pattern.
func spanName(r *http.Request) string {
	switch {
	case r.Pattern == "":
		return normalizeMethod(r.Method)
	case strings.Contains(r.Pattern, " "):
		return r.Pattern
	}
	return normalizeMethod(r.Method) + " " + r.Pattern
}
