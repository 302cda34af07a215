package admin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/plykit/ply"
)

// TokenEnv is the environment variable the token is read from when
// [Options.Token] is empty.
const TokenEnv = "PLY_ADMIN_TOKEN" //nolint:gosec // the name of the variable, not a credential

// Options configure the admin page. The zero value serves on
// 127.0.0.1:9091 with a generated token, sampling one call in 100.
type Options struct {
	// Addr is the TCP address to serve on. Default "127.0.0.1:9091". A host
	// other than loopback is refused unless AllowRemote is set.
	Addr string
	// AllowRemote allows an Addr that other machines reach. Default false:
	// the page can reload the host and retry jobs.
	AllowRemote bool
	// Token is what every request must carry: as "Authorization: Bearer
	// TOKEN", or as the cookie that GET /login?token=TOKEN sets. Empty: the
	// environment variable PLY_ADMIN_TOKEN, else a random one ([Plugin.Token]).
	// At least 16 characters.
	Token string
	// SampleEvery is how often the request inspector keeps a call: one in
	// SampleEvery, per chain. Default 100; negative turns the inspector off.
	SampleEvery int
	// Keep is how many sampled calls the inspector keeps. Default 200.
	Keep int
	// Logs is the ring the host's logger writes into ([NewLogs]); nil: the
	// logs page says it has none.
	Logs *Logs
	// Jobs returns what shows and operates the host's job queues and event
	// topics, given the host (adminwire.Jobs in ply's own wiring); nil: the
	// jobs page says there are none.
	Jobs func(h *ply.Host) Jobs
	// Reloader previews and applies a new configuration; nil: the reload
	// page shows only the history of reloads made otherwise.
	Reloader Reloader
	// Tenants lists the host's tenants for the overview, once a host has
	// them; nil: the overview has no tenants column.
	Tenants func(ctx context.Context) ([]Tenant, error)
}

// Tenant is one tenant as the overview shows it: the plugins it enables
// and the version of each it runs.
type Tenant struct {
	Name    string            `json:"name"`
	Plugins map[string]string `json:"plugins"` // plugin name → version
}

// Plugin is the admin page as a ply plugin. Register it with the host it
// shows (in ply run: --admin ADDR). It sits outside every other layer
// (priority 1) so that the inspector sees every call whole, and measures
// every layer ([ply.LayerObserver]). It is safe for concurrent use.
type Plugin struct {
	opts  Options
	token string
	csrf  string

	host   *ply.Host
	queues Jobs // from Options.Jobs, at Provision
	logger *slog.Logger
	stats  *registry
	calls  *ring
	reload *reloads

	mu   sync.Mutex
	srv  *http.Server
	ln   net.Listener
	done chan struct{} // closed by Stop: ends the event streams
	serv chan struct{} // closed when Serve returned
}

var (
	_ ply.Provisioner    = (*Plugin)(nil)
	_ ply.Validator      = (*Plugin)(nil)
	_ ply.Wrapper        = (*Plugin)(nil)
	_ ply.LayerObserver  = (*Plugin)(nil)
	_ ply.ReloadObserver = (*Plugin)(nil)
	_ ply.Starter        = (*Plugin)(nil)
	_ ply.Stopper        = (*Plugin)(nil)
)

// ErrNotLoopback is returned by [New] for an address other machines reach
// without [Options.AllowRemote].
var ErrNotLoopback = errors.New("admin: address is not loopback")

// New returns the admin page with opts. It returns an error for an
// address other machines reach without AllowRemote (matching
// [ErrNotLoopback]), a token shorter than 16 characters, or a bad address.
func New(opts Options) (*Plugin, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:9091"
	}
	if opts.SampleEvery == 0 {
		opts.SampleEvery = 100
	}
	if opts.Keep <= 0 {
		opts.Keep = 200
	}
	host, _, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("admin: address %q: %w (want host:port, e.g. 127.0.0.1:9091)", opts.Addr, err)
	}
	if !opts.AllowRemote && !loopback(host) {
		return nil, fmt.Errorf("%w: %q; serve on 127.0.0.1, or allow remote access explicitly (--admin-allow-remote)", ErrNotLoopback, opts.Addr)
	}
	token := opts.Token
	if token == "" {
		token = os.Getenv(TokenEnv)
	}
	if token == "" {
		b := make([]byte, 24)
		_, _ = rand.Read(b) // never fails (crypto/rand)
		token = hex.EncodeToString(b)
	}
	if len(token) < 16 {
		return nil, fmt.Errorf("admin: token: %d characters; want at least 16 (set %s, or leave it unset for a random one)", len(token), TokenEnv)
	}
	p := &Plugin{opts: opts, token: token, csrf: csrfOf(token), stats: newRegistry(), calls: newRing(opts.Keep), reload: &reloads{}}
	return p, nil
}

// loopback reports whether host names only this machine.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Info names the plugin "admin". Priority 1 puts its layer outside every
// stock band.
func (p *Plugin) Info() ply.Info {
	return ply.Info{Name: "admin", Version: "0.1.0", Priority: 1, Policy: ply.PolicyOptional,
		Description: "the admin page: plugins, graph, chains, request inspector, jobs, reload, logs"}
}

// Token returns the token every request needs.
func (p *Plugin) Token() string { return p.token }

// Addr returns the address the page serves on once started, else nil.
func (p *Plugin) Addr() net.Addr {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return nil
	}
	return p.ln.Addr()
}

// LoginURL returns the URL that logs a browser in (it carries the token:
// show it only to the operator), once started; else "".
func (p *Plugin) LoginURL() string {
	a := p.Addr()
	if a == nil {
		return ""
	}
	return "http://" + a.String() + "/login?token=" + p.token
}

// Provision keeps the host the page shows.
func (p *Plugin) Provision(_ context.Context, s *ply.Setup) error {
	p.host, p.logger = s.Host(), s.Logger()
	if p.opts.Jobs != nil {
		p.queues = p.opts.Jobs(p.host)
	}
	return nil
}

// Validate checks that the host is known.
func (p *Plugin) Validate(context.Context) error {
	if p.host == nil {
		return errors.New("admin: not provisioned")
	}
	return nil
}

// Start listens on the address and serves the page in the background.
func (p *Plugin) Start(ctx context.Context) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", p.opts.Addr)
	if err != nil {
		return fmt.Errorf("admin: listen on %s: %w (choose another address with --admin)", p.opts.Addr, err)
	}
	srv := &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	p.mu.Lock()
	p.srv, p.ln, p.done, p.serv = srv, ln, make(chan struct{}), make(chan struct{})
	serv := p.serv
	p.mu.Unlock()
	go func() {
		defer close(serv)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.logger.Error("admin: serving stopped", "err", err)
		}
	}()
	p.logger.Info("admin page serving", "addr", ln.Addr().String())
	return nil
}

// Stop ends the event streams and shuts the server down, waiting for the
// requests in flight or ctx.
func (p *Plugin) Stop(ctx context.Context) error {
	p.mu.Lock()
	srv, done, serv := p.srv, p.done, p.serv
	p.srv = nil
	p.mu.Unlock()
	if srv == nil {
		return nil
	}
	close(done)
	err := srv.Shutdown(ctx)
	if err != nil {
		_ = srv.Close()
	}
	<-serv
	return err
}

// Wrap gives every handler, of every kind, the inspector's layer: it
// samples one call in SampleEvery and records the call's layers.
func (p *Plugin) Wrap(_ context.Context, t ply.Target) (ply.Wrap, error) {
	if p.opts.SampleEvery < 0 {
		return ply.Wrap{}, nil
	}
	return ply.Wrap{Layer: p.sampler(t.Module.Name, t.Handler.Name, t.Handler.Kind)}, nil
}

// ObserveReload keeps the reload in the history the reload page shows.
func (p *Plugin) ObserveReload(r ply.Reloaded, err error) { p.reload.add(r, err) }
