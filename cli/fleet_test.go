package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/plykit/ply"
	"github.com/plykit/ply/internal/fleet"
	"github.com/plykit/ply/internal/natstest"
)

// fleetConfig is a host's configuration whose route answers text; with
// extra, it has a second route (which a reload cannot add).
func fleetConfig(text string, extra bool) string {
	s := fmt.Sprintf(`plugins:
  - name: httpserver
    options: {addr: "127.0.0.1:0"}
  - name: requestid
modules:
  - name: api
    routes:
      - route: GET /hello
        static: {text: %q}
`, text)
	if extra {
		s += "      - route: GET /more\n        static: {text: more}\n"
	}
	return s
}

// fleetServer starts an in-process NATS server with JetStream on a
// loopback port, for hosts and pushers that connect by URL.
func fleetServer(t *testing.T) string {
	t.Helper()
	s := natstest.EmbeddedWith(t, func(o *server.Options) {
		o.DontListen, o.Host, o.Port = false, "127.0.0.1", server.RANDOM_PORT
	})
	return s.ClientURL()
}

// startFleetHost starts a host as ply run --fleet url --host-id id FILE
// would, FILE holding file, and serves its revisions until the test ends.
func startFleetHost(t *testing.T, url, id, file string) *live {
	t.Helper()
	a := &app{catalog: stockCatalog(), replaced: map[string]bool{}, server: "httpserver", stdout: io.Discard, stderr: io.Discard}
	path := filepath.Join(t.TempDir(), "ply.yaml")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	ff := fleetFlags{urls: url, namespace: fleet.Namespace, replicas: 1, host: id}
	fh, err := ff.open(t.Context(), logger)
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := a.startFleet(t.Context(), fh, path, logger, []ply.Option{ply.WithLogger(logger)})
	if err != nil {
		fh.close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.serve(ctx, false) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		if err := l.host.Stop(context.Background()); err != nil {
			t.Error(err)
		}
		fh.close()
	})
	return l
}

// runCLI runs the ply command with args.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := New()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

func get(t *testing.T, l *live, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addrOf(t, l.host)+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func writeTemp(t *testing.T, name, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func openFleet(t *testing.T, url string) *fleet.Fleet {
	t.Helper()
	ff := fleetFlags{urls: url, namespace: fleet.Namespace, replicas: 1}
	nc, f, err := ff.connect(t.Context(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return f
}

// TestFleetPush starts three hosts on a fleet and pushes revisions: a good
// one reaches every host, which report the same revision and generation;
// one that cannot load is not pushed; one the hosts cannot apply changes
// no host, and each says why; a push based on a stale revision is refused.
func TestFleetPush(t *testing.T) {
	url := fleetServer(t)
	hosts := make([]*live, 3)
	for i := range hosts {
		hosts[i] = startFleetHost(t, url, fmt.Sprintf("h%d", i+1), fleetConfig("file", false))
	}
	f := openFleet(t, url)
	statuses := func() []fleet.Status {
		t.Helper()
		all, err := f.Statuses(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return all
	}
	if got := statuses(); len(got) != 3 || got[0].Revision != 0 || !got[0].OK() {
		t.Fatalf("statuses before a push = %+v, want 3 hosts serving their file", got)
	}

	out, err := runCLI(t, "config", "push", writeTemp(t, "v2.yaml", fleetConfig("pushed", false)), "--fleet", url, "--wait", "30s")
	if err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	cur, err := f.Current(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	good := statuses()
	for _, st := range good {
		if st.Revision != cur.Number || !st.OK() || st.Generation != good[0].Generation || st.Generation < 2 {
			t.Errorf("after the push, %+v; want revision %d, ok, generation %d on every host", st, cur.Number, good[0].Generation)
		}
	}
	for i, l := range hosts {
		if code, body := get(t, l, "/hello"); code != http.StatusOK || body != "pushed" {
			t.Errorf("host %d: GET /hello = %d %q, want 200 \"pushed\"", i+1, code, body)
		}
	}

	t.Run("invalid file is not pushed", func(t *testing.T) {
		out, err := runCLI(t, "config", "push", writeTemp(t, "bad.yaml", "plugins:\n  - name: nosuchplugin\n"), "--fleet", url)
		if err == nil || !strings.Contains(out+err.Error(), "nosuchplugin") {
			t.Fatalf("push of a bad file: %v\n%s\nwant an error naming the plugin", err, out)
		}
		if now, err := f.Current(t.Context()); err != nil || now.Number != cur.Number {
			t.Errorf("current revision = %d, %v; want %d unchanged", now.Number, err, cur.Number)
		}
	})

	t.Run("revision the hosts refuse changes no host", func(t *testing.T) {
		out, err := runCLI(t, "config", "push", writeTemp(t, "routes.yaml", fleetConfig("more routes", true)), "--fleet", url, "--wait", "30s")
		if err == nil || !strings.Contains(err.Error(), "refused by h1, h2, h3") {
			t.Fatalf("push of a route: %v\n%s\nwant refused by every host", err, out)
		}
		now, err := f.Current(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for i, st := range statuses() {
			if st.Revision != cur.Number || st.Generation != good[i].Generation || st.Refused != now.Number ||
				!strings.Contains(st.Error, "reload cannot") {
				t.Errorf("%+v; want revision %d and generation %d kept, revision %d refused by a reload that cannot add routes",
					st, cur.Number, good[i].Generation, now.Number)
			}
		}
		for i, l := range hosts {
			if code, body := get(t, l, "/hello"); code != http.StatusOK || body != "pushed" {
				t.Errorf("host %d: GET /hello = %d %q, want the pushed revision's 200 \"pushed\"", i+1, code, body)
			}
		}
	})

	t.Run("stale revision refused", func(t *testing.T) {
		before, err := f.Current(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.Push(t.Context(), []byte(fleetConfig("stale", false)), cur.Number-1)
		if !errors.Is(err, fleet.ErrStale) {
			t.Fatalf("push based on revision %d: %v, want ErrStale", cur.Number-1, err)
		}
		out, err := runCLI(t, "config", "push", writeTemp(t, "stale.yaml", fleetConfig("stale", false)), "--fleet", url,
			"--revision", fmt.Sprint(cur.Number))
		if !errors.Is(err, fleet.ErrStale) {
			t.Fatalf("ply config push --revision %d: %v\n%s, want ErrStale", cur.Number, err, out)
		}
		if now, err := f.Current(t.Context()); err != nil || now.Number != before.Number {
			t.Errorf("current revision = %d, %v; want %d unchanged", now.Number, err, before.Number)
		}
	})
}

// TestOnlyServerLost runs a host on one external NATS server and kills
// the server: HTTP calls, which do not need NATS, keep working; the
// backbone's health is degraded while it reconnects, and OK again once the
// server is back, without a restart of the host.
func TestOnlyServerLost(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a nats-server process")
	}
	p := natstest.Start(t)
	a := &app{catalog: stockCatalog(), replaced: map[string]bool{}, server: "httpserver", stdout: io.Discard, stderr: io.Discard}
	cfg := strings.Replace(fleetConfig("up", false), "  - name: requestid\n", "  - name: requestid\n  - name: backbone\n    options: {urls: [\""+p.URL()+"\"]}\n", 1)
	path := writeTemp(t, "ply.yaml", cfg)
	logger := slog.New(slog.DiscardHandler)
	l, _, err := a.start(t.Context(), path, logger, []ply.Option{ply.WithLogger(logger)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.host.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	backbone := func() ply.State {
		for _, st := range l.host.Health(t.Context()) {
			if st.Name == "backbone" {
				return st.State
			}
		}
		t.Fatal("no backbone in the host's health")
		return ply.StateFailed
	}
	awaitState := func(want ply.State) {
		t.Helper()
		deadline := time.Now().Add(natstest.ReadyTimeout)
		for backbone() != want {
			if time.Now().After(deadline) {
				t.Fatalf("backbone is %s after %v, want %s", backbone(), natstest.ReadyTimeout, want)
			}
			time.Sleep(10 * time.Millisecond) // polling the client's state: nothing to wait on
		}
	}
	awaitState(ply.StateOK)
	p.Kill()
	awaitState(ply.StateDegraded)
	for _, path := range []string{"/hello", "/readyz"} {
		if code, body := get(t, l, path); code != http.StatusOK {
			t.Errorf("GET %s with the server down = %d %q, want 200", path, code, body)
		}
	}
	p.Restart(t)
	awaitState(ply.StateOK)
}
