package admin_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/plykit/ply"
	"github.com/plykit/ply/admin"
	"github.com/plykit/ply/plytest"
)

// errDenied is what the test's guard layer returns when it short-circuits.
var errDenied = errors.New("denied")

// start runs a host with the admin page (sampling every call) and one
// handler behind a guard that short-circuits calls whose request is
// "deny". It returns the page and a function that calls the handler.
func start(t *testing.T, opts admin.Options) (*admin.Plugin, func(req string) error) {
	t.Helper()
	opts.Addr = "127.0.0.1:0"
	if opts.SampleEvery == 0 {
		opts.SampleEvery = 1
	}
	page, err := admin.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	guard := ply.Func{Meta: ply.Info{Name: "guard", Version: "1.0.0", Priority: ply.Security},
		OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
			return ply.Wrap{Layer: func(ctx context.Context, c *ply.Call, next ply.Next) error {
				if c.Request() == "deny" {
					return errDenied
				}
				return next.Run(ctx)
			}}, nil
		}}
	h := plytest.New(t, []ply.Plugin{page, guard}, ply.WithLogger(slog.New(slog.DiscardHandler)), ply.WithModules(ply.Module{Name: "m", Handlers: []ply.Handler{
		{Kind: "rpc", Name: "hello", Func: func(context.Context, *ply.Call) error { return nil }},
	}}))
	ch, err := h.Chain("m", "hello")
	if err != nil {
		t.Fatal(err)
	}
	return page, func(req string) error {
		_, err := ch.Serve(t.Context(), req, nil)
		return err
	}
}

type request struct {
	method, path string
	header       map[string]string
	body         string
}

// answer is what a request got: its body read and closed.
type answer struct {
	StatusCode int
	Header     http.Header
	cookies    []*http.Cookie
}

func (a answer) Cookies() []*http.Cookie { return a.cookies }

func do(t *testing.T, page *admin.Plugin, r request) (answer, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), r.method, "http://"+page.Addr().String()+r.path, strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{StatusCode: res.StatusCode, Header: res.Header, cookies: res.Cookies()}, string(b)
}

// Every page and every API answers 401 without the token, or with a wrong
// one; with it, they answer.
func TestEveryPageNeedsTheToken(t *testing.T) {
	page, call := start(t, admin.Options{})
	if err := call("ok"); err != nil {
		t.Fatal(err)
	}
	paths := []string{"/", "/graph", "/plugins/guard", "/chains", "/calls", "/calls/1", "/jobs", "/reload", "/logs",
		"/static/admin.js", "/api/plugins", "/api/plugins/guard", "/api/graph.svg", "/api/chains", "/api/calls", "/api/calls/1",
		"/api/jobs", "/api/jobs/q/dead", "/api/reloads", "/api/config", "/api/logs", "/no/such/page"}
	posts := []string{"/jobs/q/dead/1/retry", "/api/jobs/q/dead/1/discard", "/reload", "/api/reload", "/api/reload/preview"}
	wrong := strings.Repeat("x", len(page.Token()))
	for _, auth := range []map[string]string{
		nil,
		{"Authorization": "Bearer " + wrong},
		{"Authorization": "Basic " + page.Token()},
		{"Cookie": "ply_admin=" + wrong},
	} {
		for _, p := range paths {
			if res, _ := do(t, page, request{method: http.MethodGet, path: p, header: auth}); res.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET %s with %v: %d, want 401", p, auth, res.StatusCode)
			}
		}
		for _, p := range posts {
			if res, _ := do(t, page, request{method: http.MethodPost, path: p, header: auth}); res.StatusCode != http.StatusUnauthorized {
				t.Errorf("POST %s with %v: %d, want 401", p, auth, res.StatusCode)
			}
		}
	}
	bearer := map[string]string{"Authorization": "Bearer " + page.Token()}
	for _, p := range paths[:len(paths)-1] {
		want := http.StatusOK
		switch p {
		case "/api/config", "/api/jobs/q/dead": // a host built in Go has no configuration or job queue to show
			want = http.StatusNotFound
		}
		if res, body := do(t, page, request{method: http.MethodGet, path: p, header: bearer}); res.StatusCode != want {
			t.Errorf("GET %s with the token: %d, want %d: %s", p, res.StatusCode, want, body)
		}
	}
}

// The login URL sets an HttpOnly, SameSite=Strict cookie that then opens
// the pages; a wrong token sets none.
func TestLogin(t *testing.T) {
	page, _ := start(t, admin.Options{})
	if res, _ := do(t, page, request{method: http.MethodGet, path: "/login?token=" + url.QueryEscape("not-"+page.Token())}); res.StatusCode != http.StatusUnauthorized || len(res.Cookies()) != 0 {
		t.Errorf("login with a wrong token: %d with cookies %v, want 401 and none", res.StatusCode, res.Cookies())
	}
	res, _ := do(t, page, request{method: http.MethodGet, path: "/login?token=" + page.Token()})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Fatalf("login: %d to %q, want 303 to /", res.StatusCode, res.Header.Get("Location"))
	}
	cookies := res.Cookies()
	if len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode || cookies[0].Value != page.Token() {
		t.Fatalf("login cookie %+v: want one HttpOnly SameSite=Strict cookie with the token", cookies)
	}
	if res, body := do(t, page, request{method: http.MethodGet, path: "/", header: map[string]string{"Cookie": cookies[0].String()}}); res.StatusCode != http.StatusOK || !strings.Contains(body, `data-plugin="guard"`) {
		t.Errorf("overview with the cookie: %d, want 200 listing guard:\n%s", res.StatusCode, body)
	}
}

// A POST from another origin is refused, whatever it carries; one by the
// cookie needs the CSRF token; one by the bearer header from the same
// origin goes through.
func TestPostsAreCSRFSafe(t *testing.T) {
	page, _ := start(t, admin.Options{})
	_, overview := do(t, page, request{method: http.MethodGet, path: "/", header: map[string]string{"Authorization": "Bearer " + page.Token()}})
	_, after, ok := strings.Cut(overview, `name="csrf-token" content="`)
	if !ok {
		t.Fatal("no CSRF token in the page")
	}
	csrf, _, _ := strings.Cut(after, `"`)
	cookie := "ply_admin=" + page.Token()
	form := "application/x-www-form-urlencoded"
	for _, tt := range []struct {
		name   string
		header map[string]string
		body   string
		want   int
	}{
		{"cookie, from another site", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "cross-site", "Content-Type": form}, "csrf=" + csrf, http.StatusForbidden},
		{"cookie, another origin", map[string]string{"Cookie": cookie, "Origin": "http://evil.example", "Content-Type": form}, "csrf=" + csrf, http.StatusForbidden},
		{"bearer, from another site", map[string]string{"Authorization": "Bearer " + page.Token(), "Sec-Fetch-Site": "cross-site"}, "", http.StatusForbidden},
		{"cookie without the CSRF token", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "same-origin", "Content-Type": form}, "", http.StatusForbidden},
		{"cookie with a wrong CSRF token", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "same-origin", "X-CSRF-Token": strings.Repeat("0", len(csrf))}, "", http.StatusForbidden},
		// Same origin, authenticated: reaches the handler, which has no job queue here.
		{"cookie with the CSRF token", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "same-origin", "Content-Type": form}, "csrf=" + csrf, http.StatusNotFound},
		{"bearer, same origin", map[string]string{"Authorization": "Bearer " + page.Token()}, "", http.StatusNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, body := do(t, page, request{method: http.MethodPost, path: "/jobs/q/dead/1/retry", header: tt.header, body: tt.body})
			if res.StatusCode != tt.want {
				t.Errorf("POST: %d, want %d: %s", res.StatusCode, tt.want, body)
			}
		})
	}
}

// The overview shows the tenants the hook returns, a column each.
func TestOverviewShowsTenants(t *testing.T) {
	page, _ := start(t, admin.Options{Tenants: func(context.Context) ([]admin.Tenant, error) {
		return []admin.Tenant{{Name: "acme", Plugins: map[string]string{"guard": "1.0.0"}}}, nil
	}})
	res, body := do(t, page, request{method: http.MethodGet, path: "/", header: map[string]string{"Authorization": "Bearer " + page.Token()}})
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "<th>tenant acme</th>") || !strings.Contains(body, "<td>1.0.0</td>\n</tr>") {
		t.Errorf("overview: %d, want a column for tenant acme with guard's version:\n%s", res.StatusCode, body)
	}
}

// The event stream sends a tick at once, and ends when the host stops
// (goleak checks that its handler returned).
func TestEventsStream(t *testing.T) {
	page, _ := start(t, admin.Options{})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+page.Addr().String()+"/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+page.Token())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q, want text/event-stream", ct)
	}
	line, err := bufio.NewReader(res.Body).ReadString('\n')
	if err != nil || line != "event: tick\n" {
		t.Errorf("first line %q, %v; want event: tick", line, err)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	for _, tt := range []struct {
		name    string
		opts    admin.Options
		wantErr error
	}{
		{"all interfaces", admin.Options{Addr: ":9091"}, admin.ErrNotLoopback},
		{"a public address", admin.Options{Addr: "10.0.0.1:9091"}, admin.ErrNotLoopback},
		{"short token", admin.Options{Token: "short"}, nil},
		{"no port", admin.Options{Addr: "127.0.0.1"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := admin.New(tt.opts)
			if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Errorf("New(%+v) = %v, want an error matching %v", tt.opts, err, tt.wantErr)
			}
		})
	}
	for _, opts := range []admin.Options{{Addr: ":9091", AllowRemote: true}, {Addr: "localhost:0"}, {Addr: "[::1]:0"}} {
		if _, err := admin.New(opts); err != nil {
			t.Errorf("New(%+v): %v", opts, err)
		}
	}
	t.Setenv(admin.TokenEnv, "from-the-environment-0123")
	if p, err := admin.New(admin.Options{}); err != nil || p.Token() != "from-the-environment-0123" {
		t.Errorf("token from %s: %v, %q", admin.TokenEnv, err, p.Token())
	}
}

// The inspector keeps one call in SampleEvery, with the layer that
// short-circuited and the error it returned.
func TestInspectorSamples(t *testing.T) {
	page, call := start(t, admin.Options{SampleEvery: 2})
	for i := range 6 {
		req := "ok"
		if i%2 == 1 {
			req = "deny" // every sampled call: the 2nd, 4th and 6th
		}
		_ = call(req)
	}
	calls := page.Calls()
	if len(calls) != 3 {
		t.Fatalf("%d calls kept, want 3 (one in 2 of 6)", len(calls))
	}
	for _, c := range calls {
		if c.Error == "" || len(c.Layers) != 1 || c.Layers[0].Plugin != "guard" || !c.Layers[0].ShortCircuit || c.Layers[0].Error != errDenied.Error() {
			t.Errorf("call %d: %+v, want guard short-circuiting with %q", c.ID, c, errDenied)
		}
	}
	if calls[0].ID != 3 {
		t.Errorf("newest call first: got id %d, want 3", calls[0].ID)
	}
	var guard *admin.LayerFigures
	for _, ch := range page.Chains() {
		for i, l := range ch.Layers {
			if l.Plugin == "guard" {
				guard = &ch.Layers[i]
			}
		}
		if ch.Calls != 6 || ch.Errors != 3 {
			t.Errorf("chain %s/%s: %d calls, %d errors; want 6 and 3", ch.Module, ch.Handler, ch.Calls, ch.Errors)
		}
	}
	if guard == nil || guard.Calls != 6 || guard.Errors != 3 || guard.ShortCircuits != 3 {
		t.Errorf("guard's figures: %+v, want 6 calls, 3 errors, 3 short-circuits", guard)
	}
}

func TestLogsFilterByPlugin(t *testing.T) {
	logs := admin.NewLogs(slog.NewTextHandler(io.Discard, nil), 3) //nolint:sloglint // DiscardHandler is never enabled: nothing would reach the ring
	l := slog.New(logs)
	l.Info("host line")
	l.With("plugin", "auth").Info("auth line", "n", 1)
	l.With("plugin", "cache").WithGroup("g").Info("cache line", "k", "v")
	l.With("plugin", "auth").Info("auth line", "n", 2)
	for _, tt := range []struct{ plugin, want string }{
		{"", "auth line n=1 | cache line g.k=v | auth line n=2"}, // the first line fell out of the ring
		{"auth", "auth line n=1 | auth line n=2"},
		{"host", ""},
		{"cache", "cache line g.k=v"},
	} {
		var got []string
		for _, ln := range logs.Lines(tt.plugin, 10) {
			got = append(got, strings.TrimSpace(ln.Message+" "+ln.Attrs))
		}
		if g := strings.Join(got, " | "); g != tt.want {
			t.Errorf("Lines(%q) = %q, want %q", tt.plugin, g, tt.want)
		}
	}
}

// FuzzUnauthenticated: whatever a request without the token asks, it gets
// 401 and nothing else.
func FuzzUnauthenticated(f *testing.F) {
	page, err := admin.New(admin.Options{Token: "the-token-0123456789"})
	if err != nil {
		f.Fatal(err)
	}
	h := page.Handler()
	f.Add("GET", "/", "")
	f.Add("POST", "/api/reload", "Bearer x")
	f.Add("GET", "/login?token=the-token", "")
	f.Fuzz(func(t *testing.T, method, target, auth string) {
		req, err := http.NewRequestWithContext(t.Context(), method, "http://127.0.0.1"+target, nil)
		if err != nil {
			return
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if strings.Contains(auth, "the-token-0123456789") || strings.Contains(req.URL.RawQuery, "the-token-0123456789") ||
			strings.Contains(req.URL.RawQuery, "%") { // an escaped form of the token
			return
		}
		rec := &recorder{header: http.Header{}}
		h.ServeHTTP(rec, req)
		if rec.status != http.StatusUnauthorized {
			t.Fatalf("%s %s (Authorization %q): %d, want 401", method, target, auth, rec.status)
		}
	})
}

type recorder struct {
	header http.Header
	status int
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return len(b), nil
}
func (r *recorder) WriteHeader(s int) { r.status = s }
