package stock_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/plykit/ply"
	"github.com/plykit/ply/middleware"
	"github.com/plykit/ply/stock"
)

// logLines returns the JSON log records whose msg is msg.
func logLines(t *testing.T, logs *logBuffer, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for l := range strings.Lines(logs.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// scrape returns the value of the series named by prefix and all the
// label pairs in labels, or "" when there is none.
func scrape(t *testing.T, h *testHost, prefix string, labels ...string) string {
	t.Helper()
	res, body := h.get(t, "/metrics")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d", res.StatusCode)
	}
	for l := range strings.Lines(body) {
		name, value, ok := strings.Cut(strings.TrimSpace(l), "} ")
		if !ok || !strings.HasPrefix(name, prefix+"{") {
			continue
		}
		all := true
		for _, lb := range labels {
			all = all && strings.Contains(name, lb)
		}
		if all {
			return value
		}
	}
	return ""
}

type teapotError struct{}

func (teapotError) Error() string   { return "no coffee" }
func (teapotError) StatusCode() int { return http.StatusTeapot }

// Every request reaches the access log and the request metrics with the
// status its client got: a 401 from auth, a 429 from the rate limit, and an
// error a handler returned, answered with the status it maps to and logged
// once, naming the handler and the request ID its client got.
func TestEveryRequestSeenWithItsStatus(t *testing.T) {
	var logs logBuffer
	unlimited := map[string]any{"ratelimit": &stock.Route{Skip: true}}
	fail := func(name string, err error) ply.Handler {
		return ply.Handler{Kind: ply.KindHTTP, Name: name, Options: unlimited,
			Func: func(context.Context, *ply.Call) error { return err }}
	}
	ok := route("GET /ok", hello)
	ok.Options = unlimited
	limited := route("GET /limited", hello) // public, and limited to 1 request
	limited.Options = map[string]any{"auth": &stock.Route{Skip: true}}
	h := serve(t, []ply.Plugin{
		stock.NewRecover(middleware.RecoverOptions{}),
		stock.NewRequestID(middleware.RequestIDOptions{}),
		stock.NewAccessLog(middleware.AccessLogOptions{}),
		stock.NewAuth(middleware.AuthOptions{APIKeys: []middleware.APIKey{{Name: "ci", Key: apiKey}}}),
		stock.NewRateLimit(middleware.RateLimitOptions{Rate: 0.001, Burst: 1}),
		stock.NewMetrics(withPrometheus(t, stock.MetricsOptions{})),
	}, []ply.Handler{
		ok, limited,
		fail("GET /fail", errors.New("database down")),
		fail("GET /slow", fmt.Errorf("query: %w", context.DeadlineExceeded)),
		fail("GET /teapot", teapotError{}),
	}, logs.logger())
	key := http.Header{"X-Api-Key": {apiKey}}
	ids := map[string]string{} // the request ID each path's response carried
	for _, tt := range []struct {
		path   string
		header http.Header
		want   int
	}{
		{"/ok", key, http.StatusOK},
		{"/ok", nil, http.StatusUnauthorized},
		{"/fail", key, http.StatusInternalServerError},
		{"/slow", key, http.StatusGatewayTimeout},
		{"/teapot", key, http.StatusTeapot},
		{"/limited", nil, http.StatusOK},
		{"/limited", nil, http.StatusTooManyRequests},
	} {
		res, body := h.do(t, http.MethodGet, tt.path, tt.header)
		ids[tt.path] = res.Header.Get("X-Request-Id")
		if res.StatusCode != tt.want {
			t.Errorf("GET %s = %d %q, want %d", tt.path, res.StatusCode, body, tt.want)
		}
		if tt.want >= 500 && strings.Contains(body, "database") {
			t.Errorf("GET %s: the body %q shows the error's text", tt.path, body)
		}
	}

	var got []string
	for _, rec := range logLines(t, &logs, "http request") {
		got = append(got, fmt.Sprintf("%v %v", rec["path"], rec["status"]))
	}
	want := "/ok 200, /ok 401, /fail 500, /slow 504, /teapot 418, /limited 200, /limited 429"
	if strings.Join(got, ", ") != want {
		t.Errorf("access log = %s\nwant         %s", strings.Join(got, ", "), want)
	}
	var failed []string
	for _, rec := range logLines(t, &logs, "request failed") {
		failed = append(failed, fmt.Sprintf("%v %v %v", rec["handler"], rec["status"], rec["err"]))
		if path, _ := rec["path"].(string); rec["request_id"] != ids[path] || ids[path] == "" {
			t.Errorf("request failed %s: request_id %v, want %q, the response's", path, rec["request_id"], ids[path])
		}
	}
	wantFailed := "GET /fail 500 database down, GET /slow 504 query: context deadline exceeded, GET /teapot 418 no coffee"
	if strings.Join(failed, ", ") != wantFailed {
		t.Errorf("errors logged = %s\nwant           %s", strings.Join(failed, ", "), wantFailed)
	}

	for _, tt := range []struct{ route, code, want string }{
		{"GET /ok", "200", "1"},
		{"GET /ok", "401", "1"},
		{"GET /limited", "200", "1"},
		{"GET /limited", "429", "1"},
		{"GET /fail", "500", "1"},
		{"GET /slow", "504", "1"},
		{"GET /teapot", "418", "1"},
	} {
		if got := scrape(t, h, "http_server_requests_total", `http_route="`+tt.route+`"`, `http_response_status_code="`+tt.code+`"`); got != tt.want {
			t.Errorf("http_server_requests_total{route %q, status %s} = %q, want %s", tt.route, tt.code, got, tt.want)
		}
	}
}

// A 200 KB path makes a short access-log line that says it was cut.
func TestAccessLogClipsLongFields(t *testing.T) {
	var logs logBuffer
	h := serve(t, []ply.Plugin{stock.NewAccessLog(middleware.AccessLogOptions{})},
		[]ply.Handler{route("GET /", hello)}, logs.logger())
	long := "/" + strings.Repeat("a", 200<<10)
	if res, _ := h.get(t, long); res.StatusCode != http.StatusOK {
		t.Fatalf("GET of a 200 KB path = %d", res.StatusCode)
	}
	lines := logLines(t, &logs, "http request")
	if len(lines) != 1 {
		t.Fatalf("%d access log lines, want 1", len(lines))
	}
	path, _ := lines[0]["path"].(string)
	if want := fmt.Sprintf("…[truncated, %d bytes]", len(long)); len(path) > 2<<10 || !strings.HasSuffix(path, want) {
		t.Errorf("logged path of %d bytes ending %q, want at most 2 KiB ending %q", len(path), path[max(0, len(path)-40):], want)
	}
}

// A panic after the response began is logged once, by recover, and the
// response is aborted.
func TestLatePanicLoggedOnce(t *testing.T) {
	var logs logBuffer
	h := serve(t, []ply.Plugin{stock.NewRecover(middleware.RecoverOptions{})},
		[]ply.Handler{route("GET /late", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "partial")
			panic("late")
		})}, logs.logger())
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, h.base+"/late", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := h.client.Do(req); err == nil {
		_, err = io.ReadAll(res.Body)
		_ = res.Body.Close()
		if err == nil {
			t.Errorf("GET /late: read the whole body, want the response aborted")
		}
	}
	panics, failed := logLines(t, &logs, "panic in handler"), logLines(t, &logs, "request failed")
	if len(panics)+len(failed) != 1 {
		t.Errorf("the panic was logged %d times as a panic and %d as a failed request, want once:\n%s", len(panics), len(failed), logs.String())
	}
}

// With error reports on, a returned error is still logged once, and the
// report carries it.
func TestErrorReportLogsOnce(t *testing.T) {
	var logs logBuffer
	h := serve(t, []ply.Plugin{stock.NewErrorReport(middleware.ErrorReportOptions{}), stock.NewAccessLog(middleware.AccessLogOptions{})},
		[]ply.Handler{
			{Kind: ply.KindHTTP, Name: "GET /fail", Func: func(context.Context, *ply.Call) error { return errors.New("database down") }},
			route("GET /written", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) }),
		}, logs.logger())
	for _, path := range []string{"/fail", "/written"} {
		h.get(t, path)
	}
	var failed []string
	for _, rec := range logLines(t, &logs, "request failed") {
		failed = append(failed, fmt.Sprintf("%v %v", rec["path"], rec["status"]))
	}
	if got := strings.Join(failed, ", "); got != "/fail 500, /written 502" {
		t.Errorf("failed requests logged: %s; want /fail 500 (by the host) and /written 502 (by the report), once each", got)
	}
}
