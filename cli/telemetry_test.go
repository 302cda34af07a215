package cli_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/plykit/ply/cli"
)

// lines collects what the command writes, and tells when a line starting
// with a prefix came.
type lines struct {
	mu   sync.Mutex
	all  strings.Builder
	want string
	seen chan string // the first line with the prefix want
}

func (l *lines) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	sent := false
	for sc.Scan() {
		l.mu.Lock()
		l.all.WriteString(sc.Text() + "\n")
		l.mu.Unlock()
		if rest, ok := strings.CutPrefix(sc.Text(), l.want); ok && !sent {
			l.seen <- rest // buffered: never blocks
			sent = true
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all.String()
}

// startRun runs ply run on config, a YAML text, and returns the URL the
// host serves on and a function that stops it and returns its standard
// output.
func startRun(t *testing.T, config string) (base string, stop func() string) {
	t.Helper()
	// A backbone without a dataDir keeps its data under $XDG_DATA_HOME:
	// the test's own, not the user's, which another ply may hold.
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	file := filepath.Join(t.TempDir(), "ply.yaml")
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil { //nolint:gosec // a file in the test's temporary directory
		t.Fatal(err)
	}
	cmd := cli.New()
	pr, pw := io.Pipe()
	out := &lines{want: "serving on ", seen: make(chan string, 1)}
	read := make(chan struct{})
	go func() {
		defer close(read)
		out.read(pr)
	}()
	cmd.SetOut(pw)
	cmd.SetErr(io.Discard)
	cmd.SetArgs([]string{"run", "--quiet", file})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	stop = func() string {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ply run: %v", err)
		}
		_ = pw.Close()
		<-read
		return out.String()
	}
	select {
	case base = <-out.seen:
		return base, stop
	case err := <-done:
		cancel()
		_ = pw.Close()
		<-read
		t.Fatalf("ply run returned before serving: %v; output:\n%s", err, out)
		return "", nil
	}
}

// get returns the body of a 200 response to GET url.
func get(t *testing.T, url string, header http.Header) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}} // no connection outlives the test
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d", url, res.StatusCode)
	}
	return string(body)
}

// ply run wires the OpenTelemetry SDK the stock plugins use: the metrics
// plugin serves the request and layer series on /metrics, and the spans
// of the tracing plugin are written to standard output, children of the
// request's trace context.
func TestRunWiresTelemetry(t *testing.T) {
	base, stop := startRun(t, `plugins:
  - name: httpserver
    options: {addr: "127.0.0.1:0"}
  - name: metrics
  - name: tracing
modules:
  - name: api
    prefix: /api
    routes:
      - route: GET /hello
        static: {text: "hello\n"}
`)
	get(t, base+"/api/hello", http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}})
	scrape := get(t, base+"/metrics", nil)
	out := stop()
	for _, series := range []string{
		`http_server_requests_total{`,
		`ply_layer_calls_total{handler="api GET /hello",`,
	} {
		if !strings.Contains(scrape, series) {
			t.Errorf("no %s… in the scrape:\n%s", series, scrape)
		}
	}
	if !strings.Contains(out, `"TraceID":"4bf92f3577b34da6a3ce929d0e0e4736"`) {
		t.Errorf("no span of the request's trace on standard output:\n%s", out)
	}
}

// The example gateway, run by ply run on a free port with /metrics on its
// main address, serves the request series and every plugin's layer series.
func TestRunGatewayServesMetrics(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "examples", "gateway", "ply.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	config := strings.Replace(string(data), "addr: 127.0.0.1:8080", `addr: "127.0.0.1:0"`, 1)
	config = strings.Replace(config, "adminAddr: 127.0.0.1:9090", "", 1)
	base, stop := startRun(t, config)
	get(t, base+"/api/hello", http.Header{"X-Api-Key": {"demo-key-0123456789"}})
	scrape := get(t, base+"/metrics", nil)
	stop()
	for _, series := range []string{
		`http_server_requests_total{`,
		`http_server_request_duration_seconds_bucket{`,
		`ply_layer_calls_total{handler="api GET /hello",`,
		`plugin="auth",tenant="demo"}`, // the gateway has tenants: a call without X-Tenant is demo
		`plugin="cache",tenant="demo"}`,
		`ply_layer_self_seconds_total{`,
	} {
		if !strings.Contains(scrape, series) {
			t.Errorf("no %s… in the scrape:\n%s", series, scrape)
		}
	}
}
