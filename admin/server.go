package admin

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// cookieName is the login cookie: HttpOnly, SameSite=Strict.
const cookieName = "ply_admin"

// csrfOf derives the token that POSTs from the pages carry (form field
// "csrf" or header X-CSRF-Token) from the admin token.
func csrfOf(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("ply admin csrf"))
	return hex.EncodeToString(m.Sum(nil))
}

type authKind int

const (
	byNone authKind = iota
	byBearer
	byCookie
)

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// authenticated says how r carries the token, if it does.
func (p *Plugin) authenticated(r *http.Request) authKind {
	if h := r.Header.Get("Authorization"); h != "" {
		if tok, ok := strings.CutPrefix(h, "Bearer "); ok && equal(tok, p.token) {
			return byBearer
		}
		return byNone
	}
	if c, err := r.Cookie(cookieName); err == nil && equal(c.Value, p.token) {
		return byCookie
	}
	return byNone
}

// Handler returns the page and its API, with every check: a request
// without the token answers 401; a POST from another origin 403 (Go's
// CrossOriginProtection); a POST authenticated by the cookie must also
// carry the CSRF token (403 otherwise). It serves what [Plugin.Start]
// serves, for embedding the page in another server.
func (p *Plugin) Handler() http.Handler {
	mux := http.NewServeMux()
	p.routes(mux)
	cop := http.NewCrossOriginProtection()
	inner := cop.Handler(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
		if r.URL.Path == "/login" && r.Method == http.MethodGet {
			p.login(w, r)
			return
		}
		how := p.authenticated(r)
		if how == byNone {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ply admin"`)
			http.Error(w, "401 unauthorized: open the login URL ply run printed, or send Authorization: Bearer TOKEN", http.StatusUnauthorized)
			return
		}
		if how == byCookie && !safe(r.Method) {
			tok := r.Header.Get("X-CSRF-Token")
			if tok == "" {
				tok = r.PostFormValue("csrf")
			}
			if !equal(tok, p.csrf) {
				http.Error(w, "403 forbidden: missing or wrong CSRF token; reload the page", http.StatusForbidden)
				return
			}
		}
		inner.ServeHTTP(w, r)
	})
}

func safe(method string) bool {
	return method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
}

// login sets the cookie when ?token= is right, and sends the browser to
// the overview without the token in its address bar.
func (p *Plugin) login(w http.ResponseWriter, r *http.Request) {
	if !equal(r.URL.Query().Get("token"), p.token) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ply admin"`)
		http.Error(w, "401 unauthorized: wrong or missing token", http.StatusUnauthorized)
		return
	}
	// Not Secure: the page serves plain HTTP on loopback, where a Secure
	// cookie would never come back.
	http.SetCookie(w, &http.Cookie{ //nolint:gosec // see above
		Name: cookieName, Value: p.token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (p *Plugin) routes(mux *http.ServeMux) {
	// Pages.
	mux.HandleFunc("GET /{$}", p.page("overview", p.overviewData))
	mux.HandleFunc("GET /graph", p.page("graph", p.graphData))
	mux.HandleFunc("GET /plugins/{name}", p.page("plugin", p.pluginData))
	mux.HandleFunc("GET /chains", p.page("chains", p.chainsData))
	mux.HandleFunc("GET /calls", p.page("calls", p.callsData))
	mux.HandleFunc("GET /calls/{id}", p.page("call", p.callData))
	mux.HandleFunc("GET /jobs", p.page("jobs", p.jobsData))
	mux.HandleFunc("GET /reload", p.page("reload", p.reloadData))
	mux.HandleFunc("GET /logs", p.page("logs", p.logsData))
	mux.HandleFunc("POST /jobs/{queue}/dead/{seq}/{action}", p.jobAction(false))
	mux.HandleFunc("POST /reload", p.page("reload", p.reloadPost))
	mux.HandleFunc("GET /events", p.events)
	mux.Handle("GET /static/", http.FileServerFS(static))

	// The JSON API: see the package documentation.
	mux.HandleFunc("GET /api/plugins", p.api(func(r *http.Request) (any, error) { return p.plugins(r.Context()) }))
	mux.HandleFunc("GET /api/plugins/{name}", p.api(func(r *http.Request) (any, error) { return p.plugin(r.Context(), r.PathValue("name")) }))
	mux.HandleFunc("GET /api/graph.svg", p.graphSVG)
	mux.HandleFunc("GET /api/chains", p.api(func(*http.Request) (any, error) { return p.Chains(), nil }))
	mux.HandleFunc("GET /api/calls", p.api(func(*http.Request) (any, error) { return p.Calls(), nil }))
	mux.HandleFunc("GET /api/calls/{id}", p.api(func(r *http.Request) (any, error) { return p.call(r.PathValue("id")) }))
	mux.HandleFunc("GET /api/jobs", p.api(func(r *http.Request) (any, error) { return p.jobsView(r.Context(), 0) }))
	mux.HandleFunc("GET /api/jobs/{queue}/dead", p.api(func(r *http.Request) (any, error) {
		limit, err := parseLimit(r.URL.Query().Get("limit"), 100)
		if err != nil {
			return nil, err
		}
		return p.dead(r.Context(), r.PathValue("queue"), limit)
	}))
	mux.HandleFunc("POST /api/jobs/{queue}/dead/{seq}/{action}", p.jobAction(true))
	mux.HandleFunc("GET /api/reloads", p.api(func(*http.Request) (any, error) { return p.reload.all(), nil }))
	mux.HandleFunc("GET /api/config", p.api(func(*http.Request) (any, error) { return p.config() }))
	mux.HandleFunc("POST /api/reload/preview", p.api(func(r *http.Request) (any, error) {
		data, err := body(r)
		if err != nil {
			return nil, err
		}
		return p.preview(r.Context(), data)
	}))
	mux.HandleFunc("POST /api/reload", p.api(func(r *http.Request) (any, error) {
		data, err := body(r)
		if err != nil {
			return nil, err
		}
		return p.apply(r.Context(), data)
	}))
	mux.HandleFunc("GET /api/logs", p.api(func(r *http.Request) (any, error) {
		limit, err := parseLimit(r.URL.Query().Get("limit"), 200)
		if err != nil {
			return nil, err
		}
		return p.logLines(r.URL.Query().Get("plugin"), limit), nil
	}))
}

// httpError is an error with the status the API answers it with.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &httpError{http.StatusNotFound, fmt.Sprintf(format, args...)}
}

func statusOf(err error) int {
	if he, ok := errors.AsType[*httpError](err); ok {
		return he.status
	}
	if errors.Is(err, ErrNotFound) {
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

// api serves what fn returns as JSON, or its error as {"error": "..."}.
func (p *Plugin) api(fn func(r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := fn(r)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if err != nil {
			w.WriteHeader(statusOf(err))
			v = map[string]string{"error": err.Error()}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v) // the client went away: nothing to do
	}
}

// maxLimit bounds every ?limit= the API takes.
const maxLimit = 10_000

// parseLimit reads a ?limit= value: def when empty, else 1..maxLimit.
func parseLimit(s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxLimit {
		return 0, badRequest("limit %q: want a number from 1 to %d", s, maxLimit)
	}
	return n, nil
}

// parseSeq reads a dead job's sequence from a path.
func parseSeq(s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		return 0, badRequest("dead job %q: want its sequence, a positive number", s)
	}
	return n, nil
}

// body reads a configuration posted to the API: the raw body, at most
// 256 KiB (ply.yaml's own limit).
func body(r *http.Request) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 256<<10))
	if err != nil {
		return nil, badRequest("reading the configuration: %v", err)
	}
	return data, nil
}

// events streams server-sent events: a "tick" every second with the
// number of sampled calls, until the client goes or the page stops. The
// pages refresh their live part on each.
func (p *Plugin) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		p.calls.mu.Lock()
		n := p.calls.ids
		p.calls.mu.Unlock()
		if _, err := fmt.Fprintf(w, "event: tick\ndata: {\"calls\":%d}\n\n", n); err != nil {
			return
		}
		fl.Flush()
		select {
		case <-r.Context().Done():
			return
		case <-done:
			return
		case <-tick.C:
		}
	}
}

// jobAction retries or discards a dead job; from a page it goes back to
// the jobs page, from the API it answers JSON.
func (p *Plugin) jobAction(api bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := p.deadAction(r.Context(), r.PathValue("queue"), r.PathValue("seq"), r.PathValue("action"))
		switch {
		case api:
			p.api(func(*http.Request) (any, error) {
				if err != nil {
					return nil, err
				}
				return map[string]string{"ok": r.PathValue("action")}, nil
			})(w, r)
		case err != nil:
			http.Error(w, err.Error(), statusOf(err))
		default:
			http.Redirect(w, r, "/jobs?done="+r.PathValue("action"), http.StatusSeeOther)
		}
	}
}

func (p *Plugin) deadAction(ctx context.Context, queue, seqText, action string) error {
	if p.queues == nil {
		return notFound("this host has no job queues")
	}
	seq, err := parseSeq(seqText)
	if err != nil {
		return err
	}
	switch action {
	case "retry":
		err = p.queues.RetryDead(ctx, queue, seq)
	case "discard":
		err = p.queues.DiscardDead(ctx, queue, seq)
	default:
		return notFound("action %q: want retry or discard", action)
	}
	if err == nil {
		p.logger.Info("admin: dead job "+action, "queue", queue, "seq", seq)
	}
	return err
}
