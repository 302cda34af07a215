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

// ply run wires the OpenTelemetry SDK the stock plugins use: the metrics
// plugin serves the request and layer series on /metrics, and the spans
// of the tracing plugin are written to standard output, children of the
// request's trace context.
func TestRunWiresTelemetry(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ply.yaml")
	config := `plugins:
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
`
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
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

	var base string
	select {
	case base = <-out.seen:
	case err := <-done:
		t.Fatalf("ply run returned before serving: %v; output:\n%s", err, out)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(path string, header http.Header) string {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header = header
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
			t.Fatalf("GET %s = %d", path, res.StatusCode)
		}
		return string(body)
	}
	get("/api/hello", http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}})
	scrape := get("/metrics", nil)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ply run: %v", err)
	}
	_ = pw.Close()
	<-read

	for _, series := range []string{
		`http_server_requests_total{`,
		`ply_layer_calls_total{handler="api GET /hello",`,
	} {
		if !strings.Contains(scrape, series) {
			t.Errorf("no %s… in the scrape:\n%s", series, scrape)
		}
	}
	if !strings.Contains(out.String(), `"TraceID":"4bf92f3577b34da6a3ce929d0e0e4736"`) {
		t.Errorf("no span of the request's trace on standard output:\n%s", out)
	}
}
