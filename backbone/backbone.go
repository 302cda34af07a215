package backbone

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plykit/ply"
	"github.com/plykit/ply/backbone/keys"
)

// Typed APIs the backbone provides in Provision. Plugins that only look
// them up import [keys], which spares their binaries the embedded server.
var (
	// Conn is the NATS connection. Dependents must not close or drain it.
	Conn = keys.Conn
	// JetStream is the JetStream API on [Conn].
	JetStream = keys.JetStream
)

// ErrClosed is returned (wrapped) by [Plugin.Health] when the connection is
// closed, or was never opened.
var ErrClosed = errors.New("backbone: connection closed")

// readyTimeout bounds the embedded server's start when the Provision
// context has no deadline.
const readyTimeout = 10 * time.Second

// Plugin is the backbone plugin; create it with [New]. Its methods are safe
// for concurrent use.
type Plugin struct {
	opts Options

	mu      sync.Mutex
	srv     *server.Server // nil when external
	lock    *os.File       // the data directory's lock, with srv
	scratch string         // a preview's throwaway data directory, removed by Cleanup
	nc      *nats.Conn
	closed  chan struct{} // closed by the client when nc is closed
	startup time.Duration
	down    bool
}

var (
	_ ply.Plugin        = (*Plugin)(nil)
	_ ply.Configurable  = (*Plugin)(nil)
	_ ply.Provisioner   = (*Plugin)(nil)
	_ ply.Cleaner       = (*Plugin)(nil)
	_ ply.HealthChecker = (*Plugin)(nil)
)

// New returns a backbone plugin with options o (the zero value: embedded,
// defaults). Options from a host's configuration replace o.
func New(o Options) *Plugin { return &Plugin{opts: o} }

// Info names the plugin "backbone", in the [ply.System] band.
func (p *Plugin) Info() ply.Info {
	return ply.Info{
		Name:        "backbone",
		Version:     "0.1.0",
		Priority:    ply.System,
		Description: "NATS JetStream engine: embedded server or external cluster",
	}
}

// Options returns the plugin's options, for the host to fill and validate.
func (p *Plugin) Options() any { return &p.opts }

// Provision starts the embedded server (or connects to [Options.URLs]) and
// provides [Conn] and [JetStream]. See the package documentation for why
// this happens here rather than in Start.
func (p *Plugin) Provision(ctx context.Context, s *ply.Setup) error {
	p.mu.Lock()
	p.down = false // set by a Cleanup that runs while this Provision does
	p.mu.Unlock()
	log := s.Logger()
	closed := make(chan struct{})
	copts := []nats.Option{
		nats.Name(cmp.Or(p.opts.Name, "ply")),
		nats.MaxReconnects(-1),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("backbone disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("backbone reconnected", "url", redact(nc.ConnectedUrl())) }),
	}
	var (
		srv     *server.Server
		lock    *os.File
		scratch string // a preview's data directory
		nc      *nats.Conn
		err     error
	)
	start := time.Now()
	if len(p.opts.URLs) == 0 {
		if s.Preview() {
			srv, scratch, err = p.previewServer(ctx, log)
		} else {
			srv, lock, err = p.startServer(ctx, log)
		}
		if err != nil {
			return err
		}
		nc, err = nats.Connect("", append(copts, append(p.authOptions(), nats.InProcessServer(srv))...)...)
		if err != nil {
			shutdown(srv, lock)
			_ = os.RemoveAll(scratch)
			return fmt.Errorf("connect in-process: %w", err)
		}
	} else {
		nc, err = connect(ctx, log, strings.Join(p.opts.URLs, ","), append(copts, p.authOptions()...))
		if err != nil {
			return err
		}
	}
	startup := time.Since(start)
	p.mu.Lock()
	down := p.down
	if !down {
		p.srv, p.lock, p.scratch, p.nc, p.closed, p.startup = srv, lock, scratch, nc, closed, startup
	}
	p.mu.Unlock()
	if down { // the host gave up on this Provision and already cleaned up
		nc.Close()
		shutdown(srv, lock)
		_ = os.RemoveAll(scratch) // best effort: the host is no longer waiting for an answer
		return errors.New("backbone: cleaned up while provisioning")
	}
	if srv != nil {
		log.Info("backbone ready", "mode", "embedded", "startup", startup, "dataDir", srv.StoreDir(), "listen", p.opts.Listen)
	} else {
		log.Info("backbone ready", "mode", "external", "startup", startup, "url", redact(nc.ConnectedUrl()))
	}

	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	return errors.Join(ply.Provide(s, Conn, nc), ply.Provide(s, JetStream, js))
}

// startServer locks the data directory and starts the embedded server in
// it. Both are released by shutdown.
func (p *Plugin) startServer(ctx context.Context, log *slog.Logger) (*server.Server, *os.File, error) {
	o := p.opts
	dir := o.DataDir
	if dir == "" {
		var err error
		if dir, err = DefaultDataDir(); err != nil {
			return nil, nil, err
		}
		warnOldDataDir(log, dir)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, nil, err
	}
	srv, err := p.newServer(ctx, log, dir, p.opts.Listen)
	if err != nil {
		_ = lock.Close() // releases the lock; nothing was written since it was taken
		return nil, nil, err
	}
	return srv, lock, nil
}

// previewServer starts the embedded server for a preview (ply explain, ply
// graph) in a throwaway directory with no listener: a preview must run
// beside the host it describes, whose data directory is locked and whose
// port is taken, and must leave nothing behind.
func (p *Plugin) previewServer(ctx context.Context, log *slog.Logger) (*server.Server, string, error) {
	dir, err := os.MkdirTemp("", "ply-preview-backbone-")
	if err != nil {
		return nil, "", fmt.Errorf("preview data directory: %w", err)
	}
	srv, err := p.newServer(ctx, log, dir, "")
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, "", err
	}
	return srv, dir, nil
}

// warnOldDataDir warns when the data directory of earlier versions holds
// data and dir, the default now, holds none: the host starts empty.
func warnOldDataDir(log *slog.Logger, dir string) {
	old := oldDefaultDataDir()
	if old == dir {
		return
	}
	if _, err := os.Stat(filepath.Join(old, "jetstream")); err != nil {
		return
	}
	if _, err := os.Stat(filepath.Join(dir, "jetstream")); err == nil {
		return
	}
	log.Warn("backbone: the default data directory moved; the old one holds data that this host will not see: "+
		"move it to the new one (while no host runs), or set the backbone's dataDir option to the old one",
		"old", old, "new", dir)
}

// shutdown stops srv (if not nil), waits for it, and releases the data
// directory's lock.
func shutdown(srv *server.Server, lock *os.File) {
	if srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
	}
	if lock != nil {
		_ = lock.Close() // releases the lock; nothing was written since it was taken
	}
}

func (p *Plugin) newServer(ctx context.Context, log *slog.Logger, dir, listen string) (*server.Server, error) {
	o := p.opts
	sopts := &server.Options{
		ServerName:         "ply",
		JetStream:          true,
		StoreDir:           dir,
		JetStreamMaxMemory: o.MaxMemory,
		JetStreamMaxStore:  o.MaxStore,
		SyncAlways:         o.Sync == "always",
		DontListen:         listen == "",
		NoSigs:             true,
		NoLog:              true,
		// Required of every client, the in-process one included.
		Username:      o.User,
		Password:      o.Password,
		Authorization: o.Token,
	}
	if listen != "" {
		host, port, err := net.SplitHostPort(listen)
		if err != nil {
			return nil, fmt.Errorf("listen %q: %w", listen, err)
		}
		n, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("listen %q: bad port", listen)
		}
		if n == 0 {
			n = server.RANDOM_PORT // to the server, 0 means its default port
		}
		sopts.Host, sopts.Port = host, n
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("embedded server: %w", err)
	}
	srv.SetLoggerV2(serverLog{log}, false, false, false)
	srv.Start()
	wait := readyTimeout
	if d, ok := ctx.Deadline(); ok {
		wait = time.Until(d)
	}
	if !srv.ReadyForConnections(wait) {
		srv.Shutdown()
		srv.WaitForShutdown()
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("embedded server not ready: %w", err)
		}
		return nil, fmt.Errorf("embedded server not ready within %v", wait)
	}
	return srv, nil
}

func (p *Plugin) authOptions() []nats.Option {
	o := p.opts
	var opts []nats.Option
	if o.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(o.CredsFile))
	}
	if o.User != "" {
		opts = append(opts, nats.UserInfo(o.User, o.Password))
	}
	if o.Token != "" {
		opts = append(opts, nats.Token(o.Token))
	}
	if o.TLS.CAFile != "" {
		opts = append(opts, nats.RootCAs(o.TLS.CAFile))
	}
	if o.TLS.CertFile != "" {
		opts = append(opts, nats.ClientCert(o.TLS.CertFile, o.TLS.KeyFile))
	}
	return opts
}

// connect dials urls until it succeeds or ctx is done, waiting between
// attempts with exponential backoff and jitter. Errors that a retry cannot
// fix (refused credentials, TLS, missing files) return at once. Its errors
// and logs name the URLs redacted.
func connect(ctx context.Context, log *slog.Logger, urls string, opts []nats.Option) (*nats.Conn, error) {
	shown := redact(urls)
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = 100*time.Millisecond, 5*time.Second
	for {
		nc, err := nats.Connect(urls, opts...)
		if err == nil {
			return nc, nil
		}
		if permanent(err) {
			return nil, fmt.Errorf("connect %s: %w", shown, err)
		}
		wait := b.NextBackOff()
		log.Warn("backbone: connect failed, retrying", "url", shown, "err", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("connect %s: %w: %w", shown, err, ctx.Err())
		case <-t.C:
		}
	}
}

// redact returns urls, a server URL or a comma-separated list of them, as
// it may be logged or reported: each password is replaced by "xxxxx", and
// so is a user name without a password, which NATS takes for a token. It
// does not parse the URLs (a URL that fails to parse must not leak either):
// the credentials are what precedes the last '@'. url.URL.Redacted, which
// nats.Conn.ConnectedUrlRedacted uses, shows a token.
func redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, u := range parts {
		scheme, rest := "", u
		if j := strings.Index(u, "://"); j >= 0 {
			scheme, rest = u[:j+3], u[j+3:]
		}
		at := strings.LastIndex(rest, "@")
		if at < 0 {
			continue
		}
		user, _, hasPassword := strings.Cut(rest[:at], ":")
		if hasPassword {
			parts[i] = scheme + user + ":xxxxx" + rest[at:]
		} else {
			parts[i] = scheme + "xxxxx" + rest[at:]
		}
	}
	return strings.Join(parts, ",")
}

// permanent reports whether a connect error is one a retry cannot fix.
func permanent(err error) bool {
	var (
		unknownCA *x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
	)
	return errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) ||
		errors.Is(err, nats.ErrAuthRevoked) || errors.Is(err, nats.ErrSecureConnRequired) ||
		errors.Is(err, nats.ErrSecureConnWanted) || errors.Is(err, fs.ErrNotExist) ||
		errors.As(err, &unknownCA) || errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &verify)
}

// Cleanup drains the connection (waiting until it is closed, or closing it
// when ctx is done), then shuts the embedded server down and waits for it.
// It is idempotent. See the package documentation for why this is Cleanup,
// not Stop.
func (p *Plugin) Cleanup(ctx context.Context) error {
	p.mu.Lock()
	nc, srv, lock, closed, down, scratch := p.nc, p.srv, p.lock, p.closed, p.down, p.scratch
	p.down = true
	p.scratch = ""
	p.mu.Unlock()
	if down || nc == nil {
		return nil
	}
	var err error
	if derr := nc.Drain(); derr != nil && !errors.Is(derr, nats.ErrConnectionClosed) {
		err = fmt.Errorf("drain: %w", derr)
	}
	select {
	case <-closed:
	case <-ctx.Done():
		nc.Close()
		<-closed
		err = errors.Join(err, fmt.Errorf("drain: %w", ctx.Err()))
	}
	shutdown(srv, lock)
	if scratch != "" {
		if rerr := os.RemoveAll(scratch); rerr != nil {
			err = errors.Join(err, fmt.Errorf("remove the preview's data directory: %w", rerr))
		}
	}
	return err
}

// Health is nil while connected, an error matching [ply.ErrDegraded] while
// the client reconnects (or drains), and one matching [ErrClosed] once the
// connection is closed.
func (p *Plugin) Health(context.Context) error {
	p.mu.Lock()
	nc, srv := p.nc, p.srv
	p.mu.Unlock()
	if nc == nil {
		return ErrClosed
	}
	switch st := nc.Status(); st {
	case nats.CONNECTED:
		if srv != nil && !srv.Running() {
			return fmt.Errorf("backbone: embedded server stopped: %w", ply.ErrDegraded)
		}
		return nil
	case nats.CLOSED:
		return ErrClosed
	default:
		return fmt.Errorf("backbone: %s: %w", strings.ToLower(st.String()), ply.ErrDegraded)
	}
}

// Server returns the embedded server, or nil when the backbone connects to
// external servers or has not been provisioned.
func (p *Plugin) Server() *server.Server {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.srv
}

// StartupDuration returns how long Provision took to start the embedded
// server and connect (or to connect to external servers).
func (p *Plugin) StartupDuration() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.startup
}

// serverLog forwards the embedded server's warnings and errors to the
// plugin's logger, and its notices at debug level.
type serverLog struct{ l *slog.Logger }

func (s serverLog) log(level slog.Level, format string, v []any) {
	ctx := context.Background()
	if s.l.Enabled(ctx, level) {
		s.l.Log(ctx, level, fmt.Sprintf(format, v...), "source", "nats-server")
	}
}

func (s serverLog) Noticef(format string, v ...any) { s.log(slog.LevelDebug, format, v) }
func (s serverLog) Warnf(format string, v ...any)   { s.log(slog.LevelWarn, format, v) }
func (s serverLog) Fatalf(format string, v ...any)  { s.log(slog.LevelError, format, v) }
func (s serverLog) Errorf(format string, v ...any)  { s.log(slog.LevelError, format, v) }
func (s serverLog) Debugf(format string, v ...any)  { s.log(slog.LevelDebug, format, v) }
func (s serverLog) Tracef(format string, v ...any)  { s.log(slog.LevelDebug, format, v) }
