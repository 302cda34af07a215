package registry_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/plykit/ply/market/registry"
)

func (e *env) page(t *testing.T, method, path string, form url.Values) (int, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequestWithContext(t.Context(), method, e.url+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestPages(t *testing.T) {
	e := newEnv(t, registry.Config{})
	for _, g := range [][3]string{{"tagger", "tagger", "1.0.0"}, {"greeter", "greeter", "1.0.0"}} {
		parts := e.signed(e.key, g[1], g[2], e.mods[g[0]])
		parts["readme"] = []byte("# " + g[1] + "\n<img src=x onerror=alert(1)>\n")
		if status, msg := e.upload(t, e.token, parts); status != http.StatusCreated {
			t.Fatalf("publish %s: %d %s", g[0], status, msg)
		}
	}
	alice, _ := e.srv.AddUser(t.Context(), "alice")
	steps := []struct {
		name, method, path string
		form               url.Values
		status             int
		want, not          []string
	}{
		{name: "search", method: "GET", path: "/?q=greet", status: 200,
			want: []string{`<a class="plugin" href="/plugins/greeter">greeter</a>`, `value="greet"`}, not: []string{"/plugins/tagger"}},
		{name: "search escapes the query", method: "GET", path: "/?q=" + url.QueryEscape(`"><script>x</script>`), status: 200,
			want: []string{`value="&#34;&gt;&lt;script&gt;x&lt;/script&gt;"`}, not: []string{"<script>x"}},
		{name: "plugin page", method: "GET", path: "/plugins/greeter", status: 200,
			want: []string{`<h1 id="name">greeter`, "ABI 1: runs on this ply", "<code>tagger ^1</code>", "greets, with the tag tagger set on the request",
				`<pre id="readme"># greeter`, "&lt;img src=x onerror=alert(1)&gt;", "No reviews yet."},
			not: []string{"<img src=x"}},
		{name: "unknown plugin", method: "GET", path: "/plugins/%3Cb%3E", status: 404, want: []string{"No plugin “&lt;b&gt;”"}},
		{name: "review without a token", method: "POST", path: "/plugins/greeter/reviews",
			form: url.Values{"rating": {"5"}, "text": {"kept text"}}, status: 401,
			want: []string{`<p class="error" id="error">a valid token is required`, ">kept text</textarea>"}},
		{name: "review", method: "POST", path: "/plugins/greeter/reviews",
			form: url.Values{"token": {alice}, "rating": {"4"}, "text": {"<script>alert(1)</script> works"}, "version": {"1.0.0"}}, status: 200,
			want: []string{`id="posted"`, `<span id="average">4.0</span> from <span id="count">1</span> review</p>`,
				"&lt;script&gt;alert(1)&lt;/script&gt; works", `<strong class="reviewer">alice</strong>`},
			not: []string{"<script>alert(1)"}},
		{name: "rate-limited", method: "POST", path: "/plugins/greeter/reviews",
			form: url.Values{"token": {alice}, "rating": {"1"}}, status: 429, want: []string{"reviews are rate-limited: try again in 10s"}},
		{name: "the average in search", method: "GET", path: "/?q=greeter", status: 200, want: []string{"4.0 (1)"}},
	}
	for _, st := range steps {
		status, body := e.page(t, st.method, st.path, st.form)
		if status != st.status {
			t.Errorf("%s: %s %s = %d, want %d\n%s", st.name, st.method, st.path, status, st.status, body)
		}
		for _, w := range st.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: the page lacks %q\n%s", st.name, w, body)
			}
		}
		for _, n := range st.not {
			if strings.Contains(body, n) {
				t.Errorf("%s: the page contains %q", st.name, n)
			}
		}
	}
}
