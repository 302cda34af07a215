package httpserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plykit/ply"
	"github.com/plykit/ply/option"
)

// Options configure the [Server]. The zero value listens on 127.0.0.1:8080.
type Options struct {
	// Addr is the TCP address to listen on. Default "127.0.0.1:8080"; use
	// ":0" for any free port (see [Server.Addr]).
	Addr string `json:"addr,omitempty"`
	// ShutdownTimeout bounds the graceful shutdown: in-flight requests get
	// this long to finish. Default 10s.
	ShutdownTimeout time.Duration `json:"shutdownTimeout,omitempty" jsonschema:"minimum=0"`
	// ReadHeaderTimeout bounds reading a request's headers. Default 10s;
	// -1 means no limit.
	ReadHeaderTimeout time.Duration `json:"readHeaderTimeout,omitempty" jsonschema:"minimum=-1ns"`
	// BodyTimeout bounds reading a request's body, from the end of its
	// headers to the end of the body; a read past it fails, and the
	// request is answered 408 if the handler returns the error. It is a
	// deadline on the body alone: unlike http.Server's ReadTimeout, it
	// never cuts a response that streams for longer. Default 30s; -1 means
	// no limit.
	BodyTimeout time.Duration `json:"bodyTimeout,omitempty" jsonschema:"minimum=-1ns"`
	// IdleTimeout is how long a keep-alive connection may wait for its
	// next request before the server closes it. Default 2m; -1 means no
	// limit.
	IdleTimeout time.Duration `json:"idleTimeout,omitempty" jsonschema:"minimum=-1ns"`
	// MaxBodyBytes limits request bodies; reading past it fails with an
	// [*http.MaxBytesError], answered 413 (see [Status]). Default 1 MiB; -1
	// means no limit.
	MaxBodyBytes int64 `json:"maxBodyBytes,omitempty" jsonschema:"minimum=-1"`
	// HealthPath answers 200 while the process lives. Default "/healthz".
	HealthPath string `json:"healthPath,omitempty" jsonschema:"pattern=^/"`
	// ReadyPath answers 200 when every required plugin is healthy, else
	// 503. Default "/readyz".
	ReadyPath string `json:"readyPath,omitempty" jsonschema:"pattern=^/"`
	// ReadyDetails makes ReadyPath on Addr name the plugins that are not
	// ready, with their errors. Default false: it answers "not ready"
	// alone, as anyone who reaches Addr may read it. The admin listener
	// always names them.
	ReadyDetails bool `json:"readyDetails,omitempty"`
	// AdminAddr, when set, is a second listener for the operators: it
	// serves the endpoints plugins mount with [Server.Handle] (the metrics
	// plugin's /metrics), which then leave Addr, and HealthPath and
	// ReadyPath (with details). An address without a host (":9090") listens
	// on 127.0.0.1; write "0.0.0.0:9090" to listen on every interface.
	// Default "": no admin listener, and the plugins' endpoints are served
	// on Addr, to anyone who reaches it.
	AdminAddr string `json:"adminAddr,omitempty"`
}

// Validate checks what the schema cannot: that Addr is a host:port
// address. It runs when the host plans, before any socket is opened.
func (o *Options) Validate() error {
	var errs []error
	if err := checkAddr(o.Addr); err != nil {
		errs = append(errs, &option.Error{Field: "addr", Problem: err.Error()})
	}
	if err := checkAddr(o.AdminAddr); err != nil {
		errs = append(errs, &option.Error{Field: "adminAddr", Problem: err.Error()})
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
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
		if !ok {
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
	if o.BodyTimeout == 0 {
		o.BodyTimeout = 30 * time.Second
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 2 * time.Minute
	}
	if host, port, err := net.SplitHostPort(o.AdminAddr); err == nil && host == "" {
		o.AdminAddr = net.JoinHostPort("127.0.0.1", port)
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

	mu        sync.Mutex
	mux       *http.ServeMux
	admin     *http.ServeMux // nil without AdminAddr
	routes    []string
	extra     []*endpoint // mounted by plugins with Handle
	listening []listening
	addr      net.Addr
	adminAddr net.Addr

	// The sockets, owned with the servers that replace this one in a
	// reload ([Server.ExportState]): main and admin once started, and
	// what the server this one replaces handed over.
	main, adminSock *acceptor
	inherited       *handoff
}

// Key is the typed API under which the server provides itself, for plugins
// and tools that need its address or routes.
var Key = ply.NewKey[*Server]("httpserver.server")

// New returns a server plugin with the given options.
func New(opts Options) *Server { return &Server{opts: opts} }

var (
	_ ply.Configurable  = (*Server)(nil)
	_ ply.Provisioner   = (*Server)(nil)
	_ ply.Binder        = (*Server)(nil)
	_ ply.Starter       = (*Server)(nil)
	_ ply.Stopper       = (*Server)(nil)
	_ ply.StateExporter = (*Server)(nil)
	_ ply.StateImporter = (*Server)(nil)
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

// An endpoint is one pattern mounted with Handle; the handler behind it
// can be replaced.
type endpoint struct {
	pattern string
	h       atomic.Pointer[http.Handler]
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) { (*e.h.Load()).ServeHTTP(w, r) }

// Handle mounts an endpoint a plugin serves itself, such as /metrics: it
// runs outside every chain, on the admin listener when AdminAddr is set,
// else on Addr beside the health endpoints. Call it in Provision (declare
// "httpserver" among the plugin's Requires, optional or not, so the server
// is provisioned first); a bad or conflicting pattern fails Bind.
//
// Handle with a pattern already mounted replaces its handler: a plugin
// that a reload rebuilds mounts its endpoint again, on the server it
// shares with the old instance. After Bind, a new pattern is mounted at
// once, and a bad or conflicting one is logged. An endpoint stays mounted
// until the server stops, also when its plugin is removed by a reload.
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mu.Lock()
	for _, e := range s.extra {
		if e.pattern == pattern {
			e.h.Store(&h)
			s.mu.Unlock()
			return
		}
	}
	e := &endpoint{pattern: pattern}
	e.h.Store(&h)
	s.extra = append(s.extra, e)
	on := s.mux
	if s.admin != nil {
		on = s.admin
	}
	s.mu.Unlock()
	if on == nil { // not bound yet: Bind mounts it
		return
	}
	if err := register(on, pattern, e); err != nil {
		s.logger.Warn("endpoint not mounted", "pattern", pattern, "err", err)
		return
	}
	s.mu.Lock()
	s.routes = append(s.routes, pattern)
	s.mu.Unlock()
}

// Bind mounts the HTTP chains. A handler's name is its pattern ("GET
// /users/{id}"); the module's prefix goes in front of the path.
func (s *Server) Bind(_ context.Context, chains []*ply.Chain) error {
	mux := s.probes(s.opts.ReadyDetails)
	var admin *http.ServeMux
	if s.opts.AdminAddr != "" {
		admin = s.probes(true)
	}
	var routes []string
	var errs []error
	s.mu.Lock()
	extra := append([]*endpoint(nil), s.extra...)
	s.mu.Unlock()
	for _, e := range extra {
		on := mux
		if admin != nil {
			on = admin
		}
		if err := register(on, e.pattern, e); err != nil {
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
	s.mux, s.admin, s.routes = mux, admin, routes
	s.mu.Unlock()
	return nil
}

// probes returns a mux with the health and readiness endpoints.
func (s *Server) probes(details bool) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+s.opts.HealthPath, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET "+s.opts.ReadyPath, func(w http.ResponseWriter, r *http.Request) {
		err := s.host.Ready(r.Context())
		switch {
		case err == nil:
			_, _ = w.Write([]byte("ready\n"))
		case details:
			http.Error(w, "not ready:\n"+err.Error(), http.StatusServiceUnavailable)
		default:
			http.Error(w, "not ready", http.StatusServiceUnavailable)
		}
	})
	return mux
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

// Handler returns the server's routes (and health endpoints) as an
// http.Handler, with the body limit and the body timeout applied. It is
// nil before Bind. Without AdminAddr, it also serves the plugins'
// endpoints ([Server.Handle]); with it, see [Server.AdminHandler].
func (s *Server) Handler() http.Handler {
	s.mu.Lock()
	mux := s.mux
	s.mu.Unlock()
	if mux == nil {
		return nil
	}
	return s.limited(mux)
}

// AdminHandler returns what the admin listener serves: the plugins'
// endpoints and the probes. It is nil before Bind or without AdminAddr.
func (s *Server) AdminHandler() http.Handler {
	s.mu.Lock()
	admin := s.admin
	s.mu.Unlock()
	if admin == nil {
		return nil
	}
	return s.limited(admin)
}

// limited applies the body limit and the body timeout to the requests h
// serves.
func (s *Server) limited(h http.Handler) http.Handler {
	limit, timeout := s.opts.MaxBodyBytes, s.opts.BodyTimeout
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			if timeout > 0 {
				rc := http.NewResponseController(w)
				if rc.SetReadDeadline(time.Now().Add(timeout)) == nil {
					r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc, timeout: timeout}
				}
			}
			if limit > 0 {
				r.Body = http.MaxBytesReader(w, r.Body, limit)
			}
		}
		h.ServeHTTP(w, r)
	})
}

// deadlineBody is a request body read under a deadline on the connection,
// which it lifts once the body ends, so that the connection's wait for the
// client to go away (and the next request) is not cut short.
type deadlineBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	ended   bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == nil || b.ended:
	case errors.Is(err, os.ErrDeadlineExceeded):
		// The deadline stays: the server reads what is left of the body
		// before it answers, and must fail at once, not wait for it.
		b.ended = true
		err = &BodyTimeoutError{Timeout: b.timeout}
	default:
		b.ended = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// BodyTimeoutError is the error reading a request body fails with once
// the server's BodyTimeout has passed. Its status is 408.
type BodyTimeoutError struct {
	Timeout time.Duration
}

func (e *BodyTimeoutError) Error() string {
	return "request body not read within " + e.Timeout.String() + " (httpserver's bodyTimeout)"
}

// StatusCode returns 408 Request Timeout.
func (e *BodyTimeoutError) StatusCode() int { return http.StatusRequestTimeout }

// Unwrap returns [os.ErrDeadlineExceeded].
func (e *BodyTimeoutError) Unwrap() error { return os.ErrDeadlineExceeded }

// Routes returns the mounted patterns, in mount order.
func (s *Server) Routes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.routes...)
}

// Start listens on Addr (and AdminAddr) and serves in the background. The
// listeners accept connections by the time Start returns. A server that
// replaces another in a reload takes over the old one's listener when its
// address did not change ([Server.ImportState]): no connection is refused
// meanwhile.
func (s *Server) Start(ctx context.Context) error {
	var from handoff
	if s.inherited != nil {
		from = *s.inherited
	}
	main, ln, err := listen(ctx, s.opts.Addr, from.main)
	if err != nil {
		return fmt.Errorf("listen on %s (set httpserver's addr option to a free address): %w", s.opts.Addr, err)
	}
	var adminSock *acceptor
	var adminLn net.Listener
	if s.opts.AdminAddr != "" {
		if adminSock, adminLn, err = listen(ctx, s.opts.AdminAddr, from.admin); err != nil {
			_ = ln.Close()
			return fmt.Errorf("listen on %s (set httpserver's adminAddr option to a free address): %w", s.opts.AdminAddr, err)
		}
	}
	h, admin := s.Handler(), s.AdminHandler()
	s.mu.Lock()
	s.main, s.adminSock = main, adminSock
	s.addr = ln.Addr()
	s.serve(ln, h)
	if adminLn != nil {
		s.adminAddr = adminLn.Addr()
		s.serve(adminLn, admin)
	}
	s.mu.Unlock()
	attrs := []any{"addr", ln.Addr().String(), "routes", len(s.Routes())}
	if adminLn != nil {
		attrs = append(attrs, "admin", adminLn.Addr().String())
	}
	if main == from.main {
		attrs = append(attrs, "listener", "taken over")
	}
	s.logger.Info("serving HTTP", attrs...)
	return nil
}

// listen returns a listener on addr: a feed of inherited when it listens
// on addr, else a new socket.
func listen(ctx context.Context, addr string, inherited *acceptor) (*acceptor, net.Listener, error) {
	if inherited != nil && inherited.addr == addr {
		if f, err := inherited.attach(); err == nil {
			return inherited, f, nil
		}
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	a, f := newAcceptor(addr, ln)
	return a, f, nil
}

// serve serves h on ln in the background; s.mu is held.
func (s *Server) serve(ln net.Listener, h http.Handler) {
	fresh := &freshConns{conns: make(map[net.Conn]bool), changed: make(chan struct{}, 1)}
	srv := &http.Server{
		Handler:           fresh.handler(h),
		ReadHeaderTimeout: max(s.opts.ReadHeaderTimeout, 0),
		IdleTimeout:       max(s.opts.IdleTimeout, 0),
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		ConnContext:       fresh.accepted,
		ConnState:         fresh.state,
	}
	done := make(chan error, 1)
	s.listening = append(s.listening, listening{srv: srv, ln: ln, fresh: fresh, done: done})
	go func() { done <- srv.Serve(ln) }()
}

// listening is one http.Server of the Server and what it serves from.
type listening struct {
	srv   *http.Server
	ln    net.Listener
	fresh *freshConns
	done  chan error // Serve's error, once it returned
}

// freshConns tracks the connections a server accepted whose first request
// has not reached the handler yet. net/http drops such a request if the
// server shuts down before it is read, and its client, on a new
// connection, does not retry: Stop waits for them before Shutdown.
type freshConns struct {
	mu      sync.Mutex
	conns   map[net.Conn]bool
	changed chan struct{} // buffered: a connection left the set
}

type connTokenKey struct{}

// connToken marks a connection's requests; served is set once the first
// reached the handler.
type connToken struct {
	c      net.Conn
	served atomic.Bool
}

// accepted is the server's ConnContext: it counts c as fresh.
func (f *freshConns) accepted(ctx context.Context, c net.Conn) context.Context {
	f.mu.Lock()
	f.conns[c] = true
	f.mu.Unlock()
	return context.WithValue(ctx, connTokenKey{}, &connToken{c: c})
}

// state is the server's ConnState hook: a closed connection is not fresh.
func (f *freshConns) state(c net.Conn, st http.ConnState) {
	if st == http.StateClosed || st == http.StateHijacked {
		f.forget(c)
	}
}

func (f *freshConns) forget(c net.Conn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
	select {
	case f.changed <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// handler forgets a connection once its first request reaches h: from
// then on, Shutdown waits for its request.
func (f *freshConns) handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if t, ok := r.Context().Value(connTokenKey{}).(*connToken); ok && !t.served.Load() {
			t.served.Store(true)
			f.forget(t.c)
		}
		h.ServeHTTP(w, r)
	})
}

// wait returns once no connection is fresh, or ctx is done.
func (f *freshConns) wait(ctx context.Context) {
	for {
		f.mu.Lock()
		n := len(f.conns)
		f.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-f.changed:
		case <-ctx.Done():
			return
		}
	}
}

// handoff is the state a server hands to the one replacing it in a reload:
// its sockets.
type handoff struct {
	main, admin *acceptor
}

// ExportState hands the server's listeners to the server replacing it in a
// reload. Both serve the same sockets until this one stops: new
// connections go to the new server as soon as it starts, while this one
// finishes the requests it has.
func (s *Server) ExportState(context.Context) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &handoff{main: s.main, admin: s.adminSock}, nil
}

// ImportState takes the listeners of the server this one replaces; Start
// serves on those whose address did not change, and opens the others,
// while the old server closes its own when it stops.
func (s *Server) ImportState(_ context.Context, state any, _ ply.Info) error {
	h, ok := state.(*handoff)
	if !ok {
		return fmt.Errorf("httpserver: cannot take over a listener from %T", state)
	}
	s.inherited = h
	return nil
}

// Addr returns the address the server listens on, or nil before Start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// AdminAddr returns the address of the admin listener, or nil before
// Start or without one.
func (s *Server) AdminAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.adminAddr
}

// Stop shuts the server down gracefully: no new connections, and in-flight
// requests get ShutdownTimeout (or until ctx is done) to finish; then it
// waits for the serving goroutines. A listener it shares with the server
// that replaced it in a reload stays open for that one.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	servers := s.listening
	s.mu.Unlock()
	if len(servers) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.ShutdownTimeout)
	defer cancel()
	var errs []error
	for _, l := range servers {
		// Stop accepting and close connections once they answered, let
		// every accepted connection's first request reach the handler, then
		// shut down: no request is dropped unread.
		_ = l.ln.Close() // Serve reports a failed listener below
		if serveErr := <-l.done; !errors.Is(serveErr, net.ErrClosed) && !errors.Is(serveErr, http.ErrServerClosed) {
			errs = append(errs, serveErr)
		}
		l.srv.SetKeepAlivesEnabled(false) // closes the idle ones now
		l.fresh.wait(ctx)
		if err := l.srv.Shutdown(ctx); err != nil {
			errs = append(errs, err, l.srv.Close())
		}
	}
	return errors.Join(errs...)
}
