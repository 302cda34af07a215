package httpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/plykit/ply"
)

// Options configure the [Server]. The zero value listens on 127.0.0.1:8080.
type Options struct {
	// Addr is the TCP address to listen on. Default "127.0.0.1:8080"; use
	// ":0" for any free port (see [Server.Addr]).
	Addr string `json:"addr,omitempty"`
	// ShutdownTimeout bounds the graceful shutdown: in-flight requests get
	// this long to finish. Default 10s.
	ShutdownTimeout time.Duration `json:"shutdownTimeout,omitempty" jsonschema:"minimum=0"`
	// ReadHeaderTimeout bounds reading request headers. Default 10s.
	ReadHeaderTimeout time.Duration `json:"readHeaderTimeout,omitempty" jsonschema:"minimum=0"`
	// MaxBodyBytes limits request bodies; larger ones fail to read with
	// 413. Default 1 MiB; -1 means no limit.
	MaxBodyBytes int64 `json:"maxBodyBytes,omitempty" jsonschema:"minimum=-1"`
	// HealthPath answers 200 while the process lives. Default "/healthz".
	HealthPath string `json:"healthPath,omitempty" jsonschema:"pattern=^/"`
	// ReadyPath answers 200 when every required plugin is healthy, else 503
	// naming the ones that are not. Default "/readyz".
	ReadyPath string `json:"readyPath,omitempty" jsonschema:"pattern=^/"`
}

// Validate checks what the schema cannot: that Addr is a host:port
// address. It runs when the host plans, before any socket is opened.
func (o *Options) Validate() error {
	var errs []error
	if err := checkAddr(o.Addr); err != nil {
		errs = append(errs, &ply.FieldError{Path: "addr", Problem: err.Error()})
	}
	return errors.Join(errs...)
}

// checkAddr reports an address that net.Listen would refuse for its form:
// no port, or a port that is neither a number in 0..65535 nor a service
// name. An empty address is the default.
func checkAddr(addr string) error {
	if addr == "" {
		return nil
	}
	fix := `; write host:port, such as "127.0.0.1:8080", or ":0" for any free port`
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not an address (%v)%s", addr, strings.TrimPrefix(err.Error(), "address "+addr+": "), fix)
	}
	if n, err := strconv.Atoi(port); err == nil {
		if n < 0 || n > 65535 {
			return fmt.Errorf("port %d of %q is out of range 0..65535%s", n, addr, fix)
		}
		return nil
	}
	if port == "" || !isServiceName(port) {
		return fmt.Errorf("port %q of %q is not a number%s", port, addr, fix)
	}
	return nil
}

// isServiceName reports whether port could name a service ("http").
func isServiceName(port string) bool {
	for _, c := range []byte(port) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func (o Options) withDefaults() Options {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:8080"
	}
	if o.ShutdownTimeout == 0 {
		o.ShutdownTimeout = 10 * time.Second
	}
	if o.ReadHeaderTimeout == 0 {
		o.ReadHeaderTimeout = 10 * time.Second
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.HealthPath == "" {
		o.HealthPath = "/healthz"
	}
	if o.ReadyPath == "" {
		o.ReadyPath = "/readyz"
	}
	return o
}

// Server is the HTTP host as a plugin, in the [ply.Route] band: in the Bind
// phase it mounts every wrapped [ply.KindHTTP] handler on its
// [http.ServeMux] pattern (the handler's name, under its module's prefix);
// Start listens before it returns, so AfterStart hooks run once the
// listener accepts connections; Stop shuts down gracefully. Use
// [Server.Handler] to serve the same routes from another server.
type Server struct {
	opts   Options
	logger *slog.Logger
	host   *ply.Host

	mu     sync.Mutex
	mux    *http.ServeMux
	routes []string
	extra  []endpoint // mounted by plugins with Handle
	srv    *http.Server
	addr   net.Addr
	done   chan error
}

// Key is the typed API under which the server provides itself, for plugins
// and tools that need its address or routes.
var Key = ply.NewKey[*Server]("httpserver.server")

// New returns a server plugin with the given options.
func New(opts Options) *Server { return &Server{opts: opts} }

var (
	_ ply.Configurable = (*Server)(nil)
	_ ply.Provisioner  = (*Server)(nil)
	_ ply.Binder       = (*Server)(nil)
	_ ply.Starter      = (*Server)(nil)
	_ ply.Stopper      = (*Server)(nil)
)

// Info names the plugin "httpserver", in the Route band.
func (s *Server) Info() ply.Info {
	return ply.Info{Name: "httpserver", Version: "0.1.0", Priority: ply.Route, Kinds: []ply.Kind{ply.KindHTTP},
		Description: "serves the HTTP handlers' chains on net/http"}
}

// Options returns the server's options for the host to fill and check.
func (s *Server) Options() any { return &s.opts }

// Provision applies the defaults and keeps the logger and the host.
func (s *Server) Provision(_ context.Context, setup *ply.Setup) error {
	s.opts = s.opts.withDefaults()
	s.logger = setup.Logger()
	s.host = setup.Host()
	return ply.Provide(setup, Key, s)
}

type endpoint struct {
	pattern string
	h       http.Handler
}

// Handle mounts an endpoint a plugin serves itself, such as /metrics, beside
// the health endpoints: it runs outside every chain. Call it in Provision
// (declare "httpserver" among the plugin's Requires, optional or not, so the
// server is provisioned first); a bad or conflicting pattern fails Bind.
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.extra = append(s.extra, endpoint{pattern, h})
}

// Bind mounts the HTTP chains. A handler's name is its pattern ("GET
// /users/{id}"); the module's prefix goes in front of the path.
func (s *Server) Bind(_ context.Context, chains []*ply.Chain) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+s.opts.HealthPath, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET "+s.opts.ReadyPath, s.ready)
	var routes []string
	var errs []error
	s.mu.Lock()
	extra := append([]endpoint(nil), s.extra...)
	s.mu.Unlock()
	for _, e := range extra {
		if err := register(mux, e.pattern, e.h); err != nil {
			errs = append(errs, fmt.Errorf("endpoint: %w", err))
			continue
		}
		routes = append(routes, e.pattern)
	}
	for _, ch := range chains {
		if ch.Handler().Kind != ply.KindHTTP {
			continue
		}
		pattern := Pattern(ch.Module().Prefix, ch.Handler().Name)
		if err := register(mux, pattern, handler(ch, s.logger)); err != nil {
			errs = append(errs, fmt.Errorf("module %s, handler %s: %w", ch.Module().Name, ch.Handler().Name, err))
			continue
		}
		routes = append(routes, pattern)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	s.mu.Lock()
	s.mux, s.routes = mux, routes
	s.mu.Unlock()
	return nil
}

// register adds a route, turning ServeMux's panics (bad or conflicting
// patterns) into errors.
func register(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("pattern %q: %v", pattern, v)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}

// Pattern joins a module prefix and a handler pattern: ("/api", "GET
// /users/{id}") is "GET /api/users/{id}".
func Pattern(prefix, name string) string {
	method, path, ok := strings.Cut(name, " ")
	if !ok {
		method, path = "", name
	}
	path = strings.TrimSuffix(prefix, "/") + path
	if method == "" {
		return path
	}
	return method + " " + path
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if err := s.host.Ready(r.Context()); err != nil {
		http.Error(w, "not ready:\n"+err.Error(), http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// Handler returns the server's routes (and health endpoints) as an
// http.Handler, with the body limit applied. It is nil before Bind.
func (s *Server) Handler() http.Handler {
	s.mu.Lock()
	mux, limit := s.mux, s.opts.MaxBodyBytes
	s.mu.Unlock()
	if mux == nil {
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if limit > 0 && r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		mux.ServeHTTP(w, r)
	})
}

// Routes returns the mounted patterns, in mount order.
func (s *Server) Routes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.routes...)
}

// Start listens on Addr and serves in the background. The listener accepts
// connections by the time Start returns.
func (s *Server) Start(ctx context.Context) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (set httpserver's addr option to a free address): %w", s.opts.Addr, err)
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	done := make(chan error, 1)
	s.mu.Lock()
	s.srv, s.addr, s.done = srv, ln.Addr(), done
	s.mu.Unlock()
	go func() { done <- srv.Serve(ln) }()
	s.logger.Info("serving HTTP", "addr", ln.Addr().String(), "routes", len(s.Routes()))
	return nil
}

// Addr returns the address the server listens on, or nil before Start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Stop shuts the server down gracefully: no new connections, and in-flight
// requests get ShutdownTimeout (or until ctx is done) to finish; then it
// waits for the serving goroutine.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, srv.Close())
	}
	if serveErr := <-done; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}
