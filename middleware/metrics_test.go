package middleware_test

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/plykit/ply/middleware"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// points returns "attributes=value" for each data point of the named metric.
func points(t *testing.T, rm metricdata.ResourceMetrics, name string) []string {
	t.Helper()
	var out []string
	label := func(s attribute.Set) string {
		var kv []string
		for _, a := range s.ToSlice() {
			kv = append(kv, string(a.Key)+"="+a.Value.String())
		}
		return strings.Join(kv, ",")
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out = append(out, label(p.Attributes)+"="+itoa(p.Value))
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out = append(out, label(p.Attributes)+"="+strconv.FormatUint(p.Count, 10))
				}
			default:
				t.Fatalf("metric %s has data %T", name, m.Data)
			}
		}
	}
	sort.Strings(out)
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() {
		if err := mp.Shutdown(t.Context()); err != nil {
			t.Errorf("shut down the provider: %v", err)
		}
	}()
	mw := must(middleware.NewMetrics(middleware.MetricsOptions{}, mp))(t)
	mux := http.NewServeMux()
	mux.Handle("GET /items/{id}", mw(ok))
	mux.Handle("POST /items", mw(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })))
	srv := serve(t, mux)

	get(t, srv.Client(), srv.URL+"/items/1")
	get(t, srv.Client(), srv.URL+"/items/2")
	do(t, srv.Client(), newRequest(t, http.MethodPost, srv.URL+"/items", nil))

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	get200 := "http.request.method=GET,http.response.status_class=2xx,http.response.status_code=200,http.route=GET /items/{id}"
	post502 := "http.request.method=POST,http.response.status_class=5xx,http.response.status_code=502,http.route=POST /items"
	for name, want := range map[string][]string{
		"http.server.requests":         {get200 + "=2", post502 + "=1"},
		"http.server.errors":           {post502 + "=1"},
		"http.server.request.duration": {get200 + "=2", post502 + "=1"},
		"http.server.active_requests": {
			"http.request.method=GET,http.route=GET /items/{id}=0",
			"http.request.method=POST,http.route=POST /items=0",
		},
	} {
		if diff := cmp.Diff(want, points(t, rm, name)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}

func TestTracing(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	defer func() {
		if err := tp.Shutdown(t.Context()); err != nil {
			t.Errorf("shut down the provider: %v", err)
		}
	}()
	mw := must(middleware.NewTracing(middleware.TracingOptions{}, tp, propagation.TraceContext{}))(t)
	var inner trace.SpanContext
	mux := http.NewServeMux()
	mux.Handle("GET /items/{id}", mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("id") {
		case "0":
			inner = trace.SpanContextFromContext(r.Context())
			w.WriteHeader(http.StatusServiceUnavailable)
		case "panic":
			panic("boom")
		}
	})))
	srv := serve(t, must(middleware.NewRecover(middleware.RecoverOptions{}, discardLogger()))(t)(mux))

	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	get(t, srv.Client(), srv.URL+"/items/1", "Traceparent", parent)
	get(t, srv.Client(), srv.URL+"/items/0")
	get(t, srv.Client(), srv.URL+"/items/panic")

	spans := sr.Ended()
	if len(spans) != 3 {
		t.Fatalf("got %d spans, want 3", len(spans))
	}
	first, second := spans[0], spans[1]
	if st := spans[2].Status(); st.Code != codes.Error || st.Description != "panic" {
		t.Errorf("panic span status = %+v, want Error \"panic\"", st)
	}
	if first.Name() != "GET /items/{id}" || first.SpanKind() != trace.SpanKindServer {
		t.Errorf("span %q kind %v, want \"GET /items/{id}\" server", first.Name(), first.SpanKind())
	}
	if got := first.Parent().TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" || first.Parent().SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("parent = %v, want the traceparent header's span", first.Parent())
	}
	if first.Status().Code != codes.Unset || second.Status().Code != codes.Error {
		t.Errorf("statuses = %v, %v; want Unset for 200, Error for 503", first.Status(), second.Status())
	}
	if inner.SpanID() != second.SpanContext().SpanID() {
		t.Error("the handler did not run in the span's context")
	}
	attrs := map[attribute.Key]string{}
	for _, a := range second.Attributes() {
		attrs[a.Key] = a.Value.String()
	}
	if attrs["http.route"] != "GET /items/{id}" || attrs["http.response.status_code"] != "503" || attrs["http.request.method"] != "GET" {
		t.Errorf("attributes = %v", attrs)
	}
}
