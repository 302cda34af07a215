package config

// The built-in route handlers a ply.yaml can name: static answers, a
// reverse proxy and a files directory.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/plykit/ply"
)

// Static answers with a fixed status, headers and body (text or JSON).
type Static struct {
	Status  int               `json:"status,omitempty" jsonschema:"minimum=100,maximum=599"`
	Text    string            `json:"text,omitempty"`
	JSON    any               `json:"json,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
}

// Proxy forwards to an upstream URL with [httputil.ReverseProxy]. The
// upstream gets the client's request with its Host set to the upstream's,
// and X-Forwarded-For, X-Forwarded-Host and X-Forwarded-Proto set from the
// connection: what the client sent in them and in Forwarded is dropped (a
// client could otherwise make the upstream build links to any host, and
// poison a cache), unless the connection comes from a trusted proxy.
type Proxy struct {
	URL string `json:"url" jsonschema:"required,pattern=^https?://"`
	// TrustedProxies are the addresses (CIDRs, such as "10.0.0.0/8", or
	// single IPs) of proxies in front of this host whose X-Forwarded-*
	// headers are kept: the client address is appended to their
	// X-Forwarded-For, and their X-Forwarded-Host, X-Forwarded-Proto and
	// Forwarded pass on.
	// Default none.
	TrustedProxies []string `json:"trustedProxies,omitempty"`
}

// Files serves a directory: only what is inside it (a symbolic link
// leading out is not followed), no directory listings and no dotfiles
// unless asked.
type Files struct {
	Dir string `json:"dir" jsonschema:"required,minLength=1"`
	// List answers a directory without an index.html with a listing of its
	// files. Default false: such a directory is not found (404).
	List bool `json:"list,omitempty"`
	// Dotfiles serves files and directories whose name starts with "."
	// (.env, .git/). Default false: they are not found (404) and listings
	// leave them out.
	Dotfiles bool `json:"dotfiles,omitempty"`
}

// builtin returns the handler of a route under the module prefix.
func builtin(r Route, prefix string) (ply.HandlerFunc, error) {
	switch {
	case r.Static != nil:
		return static(*r.Static)
	case r.Proxy != nil:
		return proxy(*r.Proxy)
	case r.Files != nil:
		return files(r, prefix)
	}
	return nil, errors.New("route has no handler")
}

func static(s Static) (ply.HandlerFunc, error) {
	status := s.Status
	if status == 0 {
		status = http.StatusOK
	}
	body, ctype := []byte(s.Text), "text/plain; charset=utf-8"
	if s.JSON != nil {
		b, err := json.Marshal(s.JSON)
		if err != nil {
			return nil, fmt.Errorf("static json: %w", err)
		}
		b = append(b, '\n')
		body, ctype = b, "application/json"
	}
	return serve(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range s.Headers {
			w.Header().Set(k, v)
		}
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", ctype)
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}), true), nil
}

func proxy(p Proxy) (ply.HandlerFunc, error) {
	u, err := url.Parse(p.URL)
	if err != nil || u.Host == "" {
		// The URL is not echoed: it may hold a password (http://user:pass@…).
		return nil, errors.New("proxy url: want an absolute http(s) URL with a host, such as http://127.0.0.1:9000")
	}
	var trusted []netip.Prefix
	for i, s := range p.TrustedProxies {
		pfx, err := parsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("proxy trustedProxies[%d]: %q is not a CIDR or an IP; write 10.0.0.0/8, 192.0.2.7 or ::1", i, s)
		}
		trusted = append(trusted, pfx)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			if !fromTrusted(pr.In.RemoteAddr, trusted) {
				pr.SetXForwarded()
				return
			}
			for _, k := range []string{"X-Forwarded-For", "Forwarded"} {
				if v := pr.In.Header.Values(k); len(v) > 0 {
					pr.Out.Header[k] = append([]string(nil), v...)
				}
			}
			pr.SetXForwarded()
			for _, k := range []string{"X-Forwarded-Host", "X-Forwarded-Proto"} {
				if v := pr.In.Header.Get(k); v != "" {
					pr.Out.Header.Set(k, v)
				}
			}
		},
		// Failures go back to the chain as the handler's error (see
		// proxyError), to be answered and logged once; what the proxy
		// logs itself (a body copy cut short) goes to slog.
		ErrorHandler: func(_ http.ResponseWriter, r *http.Request, err error) {
			if failed, ok := r.Context().Value(proxyFailure{}).(*error); ok {
				*failed = err
			}
		},
		ErrorLog: slog.NewLogLogger(defaultHandler{}, slog.LevelWarn),
	}
	upstream := u.Redacted()
	return func(ctx context.Context, c *ply.Call) error {
		w, r, err := httpOf(c)
		if err != nil {
			return err
		}
		var failed error
		rp.ServeHTTP(w, r.WithContext(context.WithValue(ctx, proxyFailure{}, &failed)))
		if failed != nil {
			return &proxyError{upstream: upstream, err: failed}
		}
		return nil
	}, nil
}

// parsePrefix reads a CIDR or a single IP.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// fromTrusted reports whether the connection's peer is in trusted.
func fromTrusted(remote string, trusted []netip.Prefix) bool {
	if len(trusted) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

type proxyFailure struct{}

// proxyError is a proxy route's failure to get an answer from its
// upstream. Its StatusCode is the answer: 413 when the client's body is
// over the server's limit, 504 when the request's deadline passed, 499
// when the client went away, else 502.
type proxyError struct {
	upstream string
	err      error
}

func (e *proxyError) Error() string { return "proxy to " + e.upstream + ": " + e.err.Error() }

func (e *proxyError) Unwrap() error { return e.err }

// StatusCode returns the status that answers the failure.
func (e *proxyError) StatusCode() int {
	if _, ok := errors.AsType[*http.MaxBytesError](e.err); ok {
		return http.StatusRequestEntityTooLarge
	}
	switch {
	case errors.Is(e.err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(e.err, context.Canceled):
		return 499 // the client closed the request
	}
	return http.StatusBadGateway
}

// defaultHandler logs to whatever slog.Default is when a record comes.
type defaultHandler struct{}

func (defaultHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return slog.Default().Handler().Enabled(ctx, l)
}

func (defaultHandler) Handle(ctx context.Context, r slog.Record) error {
	return slog.Default().Handler().Handle(ctx, r)
}

func (h defaultHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return slog.Default().Handler().WithAttrs(as)
}

func (h defaultHandler) WithGroup(name string) slog.Handler {
	return slog.Default().Handler().WithGroup(name)
}

func files(r Route, prefix string) (ply.HandlerFunc, error) {
	f := *r.Files
	root, err := os.OpenRoot(f.Dir)
	if err != nil {
		return nil, fmt.Errorf("files dir %q: not a directory", f.Dir)
	}
	// The root stays open for the life of the process: handlers have no
	// cleanup, and it is one descriptor per files route.
	_, pattern, ok := strings.Cut(r.Route, " ")
	if !ok {
		pattern = r.Route
	}
	if i := strings.IndexByte(pattern, '{'); i >= 0 { // serve what follows the pattern's literal part
		pattern = pattern[:i]
	}
	strip := strings.TrimSuffix(strings.TrimSuffix(prefix, "/")+pattern, "/")
	fsys := guardedFS{fsys: root.FS(), list: f.List, dotfiles: f.Dotfiles}
	return serve(http.StripPrefix(strip, http.FileServerFS(fsys)), true), nil
}

// guardedFS is a directory's files as a files route serves them: Open
// refuses dotfiles (unless asked) and directories without an index.html
// (unless listing is asked), and every failure to open is "not found", so
// the client learns nothing of what is outside or refused.
type guardedFS struct {
	fsys           fs.FS // an os.Root's: nothing outside the directory
	list, dotfiles bool
}

func (g guardedFS) Open(name string) (fs.File, error) {
	if !g.dotfiles && hasDotElem(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	f, err := g.fsys.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return nil, err
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	st, err := f.Stat()
	if err != nil || !st.IsDir() {
		return f, err
	}
	if !g.list {
		if _, err := fs.Stat(g.fsys, path.Join(name, "index.html")); err != nil {
			_ = f.Close()
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
	}
	if rd, ok := f.(fs.ReadDirFile); ok && !g.dotfiles {
		return noDotDir{rd}, nil
	}
	return f, nil
}

// hasDotElem reports whether a path element of name starts with ".".
func hasDotElem(name string) bool {
	for elem := range strings.SplitSeq(name, "/") {
		if strings.HasPrefix(elem, ".") && elem != "." {
			return true
		}
	}
	return false
}

// noDotDir is a directory whose listing leaves out dotfiles.
type noDotDir struct{ fs.ReadDirFile }

func (d noDotDir) ReadDir(n int) ([]fs.DirEntry, error) {
	for {
		es, err := d.ReadDirFile.ReadDir(n)
		kept := es[:0]
		for _, e := range es {
			if !strings.HasPrefix(e.Name(), ".") {
				kept = append(kept, e)
			}
		}
		if len(kept) > 0 || err != nil || n <= 0 {
			return kept, err
		}
	}
}

// maxDrain bounds what serve reads of a body that its handler ignores:
// enough to reach any sane body limit, not a sink for an unlimited one.
const maxDrain = 64 << 20

// serve turns an http.Handler into a ply handler. With drain, it first
// reads the request's body, which the handler ignores, so that a body over
// the server's limit is answered 413 as on every route.
func serve(h http.Handler, drain bool) ply.HandlerFunc {
	return func(_ context.Context, c *ply.Call) error {
		w, r, err := httpOf(c)
		if err != nil {
			return err
		}
		if drain && r.Body != nil && r.Body != http.NoBody {
			if _, err := io.Copy(io.Discard, io.LimitReader(r.Body, maxDrain)); err != nil {
				return fmt.Errorf("read request body: %w", err)
			}
		}
		h.ServeHTTP(w, r)
		return nil
	}
}

func httpOf(c *ply.Call) (http.ResponseWriter, *http.Request, error) {
	w, _ := c.Response().(http.ResponseWriter)
	r, _ := c.Request().(*http.Request)
	if w == nil || r == nil {
		return nil, nil, errors.New("an HTTP route was called without an HTTP request")
	}
	return w, r, nil
}
