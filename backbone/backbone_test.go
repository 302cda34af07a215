package backbone_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/plykit/ply"
	"github.com/plykit/ply/backbone"
	"github.com/plykit/ply/internal/natstest"
	"github.com/plykit/ply/option"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// user is a plugin that requires the backbone and takes its APIs in
// Provision, as dependents do.
type user struct {
	nc *nats.Conn
	js jetstream.JetStream
}

func (u *user) Info() ply.Info {
	return ply.Info{Name: "user", Version: "1.0.0", Requires: []ply.Dependency{{Name: "backbone", Constraint: "^0.1"}}}
}

func (u *user) Provision(_ context.Context, s *ply.Setup) error {
	var err error
	if u.nc, err = ply.Lookup(s, backbone.Conn); err != nil {
		return err
	}
	u.js, err = ply.Lookup(s, backbone.JetStream)
	return err
}

// start starts a host with the backbone and a user of it, stopped in
// t.Cleanup (stopping twice is harmless).
func start(t testing.TB, o backbone.Options, hostOpts ...ply.Option) (*ply.Host, *backbone.Plugin, *user) {
	t.Helper()
	bb, u := backbone.New(o), &user{}
	h, err := ply.New([]ply.Plugin{u, bb}, append([]ply.Option{ply.WithLogger(slog.New(slog.DiscardHandler))}, hostOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := h.Stop(context.Background()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return h, bb, u
}

// durable creates a stream with replicas and stores one message in it.
func durable(t testing.TB, js jetstream.JetStream, replicas int) {
	t.Helper()
	ctx := context.Background()
	natstest.CreateStream(t, js, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}, Replicas: replicas})
	// A replicated stream answers only once its servers learnt of each
	// other's interest in its subjects: until then a publish finds no
	// responders, which the client retries.
	settled := []jetstream.PublishOpt{jetstream.WithRetryAttempts(100), jetstream.WithRetryWait(50 * time.Millisecond)}
	if _, err := js.Publish(ctx, "orders.1", []byte("one"), settled...); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

func TestEmbedded(t *testing.T) {
	h, bb, u := start(t, backbone.Options{DataDir: t.TempDir(), Sync: "always"})
	if addr := bb.Server().Addr(); addr != nil {
		t.Errorf("embedded server listens on %v, want no TCP listener", addr)
	}
	durable(t, u.js, 1)
	if err := bb.Health(t.Context()); err != nil {
		t.Errorf("Health = %v, want nil", err)
	}
	if d := bb.StartupDuration(); d <= 0 {
		t.Errorf("StartupDuration = %v, want > 0", d)
	}
	t.Logf("embedded startup: %v", bb.StartupDuration())

	if err := h.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := bb.Health(t.Context()); !errors.Is(err, backbone.ErrClosed) {
		t.Errorf("Health after Stop = %v, want ErrClosed", err)
	}
	if bb.Server().Running() {
		t.Error("embedded server still running after Stop")
	}
	if !u.nc.IsClosed() {
		t.Error("connection not closed after Stop")
	}
}

func TestEmbeddedDataSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	h, _, u := start(t, backbone.Options{DataDir: dir})
	durable(t, u.js, 1)
	if err := h.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, _, u = start(t, backbone.Options{DataDir: dir})
	s, err := u.js.Stream(t.Context(), "ORDERS")
	if err != nil {
		t.Fatalf("stream after restart: %v", err)
	}
	if got := s.CachedInfo().State.Msgs; got != 1 {
		t.Errorf("messages after restart = %d, want 1", got)
	}
}

// An embedded server with a TCP port requires the configured credentials
// of every client, the backbone's own in-process connection included: an
// anonymous client is refused, one with the credentials gets in.
func TestEmbeddedListenWithAuth(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts backbone.Options
		cred nats.Option
	}{
		{name: "user and password", opts: backbone.Options{User: "ply", Password: "s3cret"}, cred: nats.UserInfo("ply", "s3cret")},
		{name: "token", opts: backbone.Options{Token: "t0ken"}, cred: nats.Token("t0ken")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			o.DataDir, o.Listen = t.TempDir(), "127.0.0.1:0"
			_, bb, u := start(t, o)
			if bb.Server().Addr() == nil {
				t.Fatal("no TCP listener with Listen set")
			}
			durable(t, u.js, 1)
			url := bb.Server().ClientURL()
			if nc, err := nats.Connect(url); !errors.Is(err, nats.ErrAuthorization) {
				if err == nil {
					nc.Close()
				}
				t.Errorf("connect without credentials = %v, want ErrAuthorization", err)
			}
			nc, err := nats.Connect(url, tt.cred)
			if err != nil {
				t.Fatalf("connect with credentials: %v", err)
			}
			nc.Close()
		})
	}
}

// An embedded server asked to listen without credentials would open the
// whole JetStream API (KV, jobs, streams) to anyone who can connect: the
// host refuses to start, naming the plugin, the field and the fix.
func TestEmbeddedListenWithoutCredentialsRefused(t *testing.T) {
	bb := backbone.New(backbone.Options{DataDir: t.TempDir(), Listen: "127.0.0.1:0"})
	h, err := ply.New([]ply.Plugin{bb}, ply.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	err = h.Start(t.Context())
	if err == nil {
		_ = h.Stop(t.Context())
		t.Fatal("Start with listen and no credentials = nil error")
	}
	ce, ok := errors.AsType[*option.Error](err)
	if !ok {
		t.Fatalf("Start = %v, want a *option.Error", err)
	}
	if ce.Plugin != "backbone" || ce.Field != "listen" {
		t.Errorf("option.Error names plugin %q field %q, want backbone and listen", ce.Plugin, ce.Field)
	}
	for _, fix := range []string{"user", "password", "token"} {
		if !strings.Contains(err.Error(), fix) {
			t.Errorf("error %q does not name the fix (%s)", err, fix)
		}
	}
	if srv := bb.Server(); srv != nil {
		t.Errorf("embedded server started (listening on %v)", srv.Addr())
	}
}

func TestExternal(t *testing.T) {
	url := natstest.Server(t)
	_, bb, u := start(t, backbone.Options{URLs: []string{url}, Name: "ext-test"})
	if bb.Server() != nil {
		t.Error("embedded server started although URLs are set")
	}
	if got := u.nc.ConnectedUrl(); got != url {
		t.Errorf("connected to %s, want %s", got, url)
	}
	durable(t, u.js, 1)
	if err := bb.Health(t.Context()); err != nil {
		t.Errorf("Health = %v, want nil", err)
	}
}

// waitHealth polls Health until check accepts its result.
func waitHealth(t *testing.T, bb *backbone.Plugin, what string, check func(error) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := bb.Health(t.Context())
		if check(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Health = %v, want %s", err, what)
		}
		<-tick.C
	}
}

func TestExternalHealthDegradedWhileReconnecting(t *testing.T) {
	p := natstest.Start(t)
	_, bb, _ := start(t, backbone.Options{URLs: []string{p.URL()}})
	p.Kill()
	waitHealth(t, bb, "degraded", func(err error) bool { return errors.Is(err, ply.ErrDegraded) })
	p.Restart(t)
	waitHealth(t, bb, "nil", func(err error) bool { return err == nil })
}

func TestCluster(t *testing.T) {
	urls := natstest.Cluster(t, 3)
	_, _, u := start(t, backbone.Options{URLs: urls})
	durable(t, u.js, 3)
}

func TestConnectRetriesUntilContextDone(t *testing.T) {
	p := natstest.Start(t)
	p.Kill() // its port is now closed
	bb := backbone.New(backbone.Options{URLs: []string{p.URL()}})
	h, err := ply.New([]ply.Plugin{bb},
		ply.WithLogger(slog.New(slog.DiscardHandler)),
		ply.WithTimeout(ply.OpProvision, 700*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	err = h.Start(t.Context())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("Start took %v, want about the provision timeout", d)
	}
}

func TestOptionErrors(t *testing.T) {
	for _, tt := range []struct {
		name       string
		opts       backbone.Options
		wantFields []string
	}{
		{name: "bad url scheme", opts: backbone.Options{URLs: []string{"http://x:4222"}}, wantFields: []string{"urls[0]"}},
		{name: "url without host", opts: backbone.Options{URLs: []string{"nats://:4222"}}, wantFields: []string{"urls[0]"}},
		{name: "url bad port", opts: backbone.Options{URLs: []string{"ok:4222", "nats://h:99999"}}, wantFields: []string{"urls[1]"}},
		{name: "negative limits", opts: backbone.Options{MaxMemory: -1, MaxStore: -5}, wantFields: []string{"maxMemory", "maxStore"}},
		{name: "listen", opts: backbone.Options{Listen: "4222", Token: "t"}, wantFields: []string{"listen"}},
		{name: "listen without credentials", opts: backbone.Options{Listen: "127.0.0.1:4222"}, wantFields: []string{"listen"}},
		{name: "sync", opts: backbone.Options{Sync: "never"}, wantFields: []string{"sync"}},
		{name: "embedded options with urls", opts: backbone.Options{URLs: []string{"nats://h:4222"}, DataDir: "/x", Listen: ":4222"}, wantFields: []string{"dataDir", "listen"}},
		{name: "two auth methods", opts: backbone.Options{Token: "t", User: "u"}, wantFields: []string{"token"}},
		{name: "cert without key", opts: backbone.Options{URLs: []string{"h"}, TLS: backbone.TLS{CertFile: "c.pem"}}, wantFields: []string{"tls"}},
		{name: "external-only options embedded", opts: backbone.Options{CredsFile: "u.creds", TLS: backbone.TLS{CAFile: "ca.pem"}}, wantFields: []string{"credsFile", "tls"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ply.New([]ply.Plugin{backbone.New(tt.opts)})
			if err != nil {
				t.Fatal(err)
			}
			_, err = h.Plan()
			if err == nil {
				t.Fatal("Plan() = nil error, want *option.Error")
			}
			fields := map[string]bool{}
			for _, e := range flatten(err) {
				ce, ok := errors.AsType[*option.Error](e)
				if !ok {
					t.Errorf("error %v is not a *option.Error", e)
					continue
				}
				if ce.Plugin != "backbone" {
					t.Errorf("option.Error.Plugin = %q, want backbone", ce.Plugin)
				}
				fields[ce.Field] = true
			}
			want := map[string]bool{}
			for _, f := range tt.wantFields {
				want[f] = true
			}
			if diff := cmp.Diff(want, fields); diff != "" {
				t.Errorf("fields at fault (-want +got):\n%s\nerr: %v", diff, err)
			}
		})
	}
}

func TestZeroOptionsAreValid(t *testing.T) {
	h, err := ply.New([]ply.Plugin{backbone.New(backbone.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Plan(); err != nil {
		t.Errorf("Plan() with zero options = %v", err)
	}
}

// flatten returns the leaves of a tree of joined errors.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// BenchmarkEmbeddedStart measures what §11 promises: the embedded server's
// start (Provision: server ready and connected in-process) and the time
// from the start of the host to the first durable publish.
func BenchmarkEmbeddedStart(b *testing.B) {
	var startup, firstPublish time.Duration
	for b.Loop() {
		began := time.Now()
		bb, u := backbone.New(backbone.Options{DataDir: b.TempDir()}), &user{}
		h, err := ply.New([]ply.Plugin{u, bb}, ply.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			b.Fatal(err)
		}
		if err := h.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		durable(b, u.js, 1)
		firstPublish += time.Since(began)
		startup += bb.StartupDuration()
		if err := h.Stop(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(startup.Microseconds())/float64(b.N)/1000, "ms-start")
	b.ReportMetric(float64(firstPublish.Microseconds())/float64(b.N)/1000, "ms-first-publish")
}

// Options from a file are decoded strictly and checked by the schema and
// Validate; each problem is a *option.Error naming the file and field.
func TestOptionsFromYAML(t *testing.T) {
	for _, tt := range []struct {
		name, doc string
		want      []string // fields at fault
	}{
		{name: "schema limit", doc: "maxMemory: -1\n", want: []string{"maxMemory"}},
		{name: "unknown key", doc: "max_mem: 1\n", want: []string{"max_mem"}}, // at its own path

		{name: "validate", doc: "urls: [\"http://x\"]\ntls:\n  certFile: c.pem\n", want: []string{"tls", "urls[0]"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ply.New([]ply.Plugin{backbone.New(backbone.Options{})},
				ply.WithOptions("backbone", ply.RawOptions{File: "ply.yaml", Data: []byte(tt.doc)}))
			if err != nil {
				t.Fatal(err)
			}
			_, err = h.Plan()
			if err == nil {
				t.Fatal("Plan() = nil error")
			}
			var got []string
			for _, e := range flatten(err) {
				ce, ok := errors.AsType[*option.Error](e)
				if !ok || ce.Plugin != "backbone" || ce.File != "ply.yaml" {
					t.Errorf("error %v: want a *option.Error for backbone in ply.yaml", e)
					continue
				}
				got = append(got, ce.Field)
			}
			slices.Sort(got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("fields at fault (-want +got):\n%s\nerr: %v", diff, err)
			}
		})
	}
}

// The connection stays open through the Stop and the Cleanup of the
// plugins that require the backbone.
func TestDependentsUseConnUntilTheirCleanup(t *testing.T) {
	var nc *nats.Conn
	use := func(op string) func(context.Context) error {
		return func(context.Context) error {
			if err := nc.Publish("audit."+op, nil); err != nil {
				return err
			}
			return nc.Flush()
		}
	}
	dep := ply.Func{
		Meta: ply.Info{Name: "dep", Version: "1.0.0", Requires: []ply.Dependency{{Name: "backbone"}}},
		OnProvision: func(_ context.Context, s *ply.Setup) (err error) {
			nc, err = ply.Lookup(s, backbone.Conn)
			return err
		},
		OnStop:    use("stop"),
		OnCleanup: use("cleanup"),
	}
	h, err := ply.New([]ply.Plugin{dep, backbone.New(backbone.Options{DataDir: t.TempDir()})},
		ply.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := h.Stop(t.Context()); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if !nc.IsClosed() {
		t.Error("connection still open after the host stopped")
	}
}
