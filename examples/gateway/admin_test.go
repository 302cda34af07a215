package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/plykit/ply"
	"github.com/plykit/ply/admin"
	"github.com/plykit/ply/internal/browsertest"
	"github.com/plykit/ply/plytest"
	"github.com/plykit/ply/stock"
)

// TestAdminPageInChromium starts the gateway with the admin page (the
// inspector keeps every call), sends traffic, and checks the pages in a
// real browser: every plugin with its state, the graph, the chain figures
// of the route that got traffic, the 401 that auth short-circuited in the
// inspector, and a dead job retried from the page.
func TestAdminPageInChromium(t *testing.T) {
	b := browsertest.Start(t, "admin", 1400, 1000)
	ctx, shots := b.Ctx, b.Shots

	server, _, plugins, api := gateway(stock.MetricsOptions{}, place{addr: "127.0.0.1:0", metricsAddr: "127.0.0.1:0", dataDir: t.TempDir()})
	page, logger, err := withAdmin(admin.Options{Addr: "127.0.0.1:0", SampleEvery: 1})
	if err != nil {
		t.Fatal(err)
	}
	h := plytest.New(t, append(plugins, page), ply.WithModules(api, reports()), ply.WithLogger(logger))
	base := "http://" + server.Addr().String()

	client := &http.Client{Timeout: 10 * time.Second}
	send := func(method, path, key, body string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		return res.StatusCode
	}
	const key = "demo-key-0123456789"
	for range 3 {
		if got := send("GET", "/api/hello", key, ""); got != http.StatusOK {
			t.Fatalf("GET /api/hello with the key: %d, want 200", got)
		}
	}
	if got := send("GET", "/api/hello", "", ""); got != http.StatusUnauthorized {
		t.Fatalf("GET /api/hello without the key: %d, want 401", got)
	}
	if got := send("POST", "/reports", key, `{"name":"q3","failFirst":true}`); got != http.StatusAccepted {
		t.Fatalf("POST /reports: %d, want 202", got)
	}
	adminAPI := func(path string, into any) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+page.Addr().String()+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+page.Token())
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = res.Body.Close() }()
		if err := json.NewDecoder(res.Body).Decode(into); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	queue := func() admin.QueueView {
		t.Helper()
		var v admin.JobsView
		adminAPI("/api/jobs", &v)
		for _, q := range v.Queues {
			if q.Name == "reports" {
				return q
			}
		}
		return admin.QueueView{}
	}
	eventually(t, "the report job dead-lettered", func() bool { return queue().Dead == 1 })

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	screenshot := b.Screenshot
	value := func(what string, a chromedp.Action[string]) string {
		t.Helper()
		v, err := chromedp.Run(ctx, a)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
	attr := func(sel, name string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.AttributeValue(sel, name))
		if err != nil || !v.Exists {
			t.Fatalf("attribute %s of %s: %v (exists %v)", name, sel, err, v.Exists)
		}
		return v.Value
	}
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+strconv.Quote(sel)+`).length`))
		if err != nil {
			t.Fatalf("counting %s: %v", sel, err)
		}
		return n
	}
	adminURL := "http://" + page.Addr().String()

	// The overview: every plugin, with the state the host reports.
	do("overview", chromedp.Navigate(page.LoginURL()), chromedp.WaitVisible("#plugins tbody tr"), screenshot("overview"))
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]map[string]string](
		`[...document.querySelectorAll("#plugins tbody tr")].map(r => ({name: r.dataset.plugin, state: r.dataset.state}))`))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rows {
		got[r["name"]] = r["state"]
	}
	statuses := h.Health(t.Context())
	if len(rows) != len(statuses) {
		t.Errorf("the overview lists %d plugins, the host has %d: %v", len(rows), len(statuses), rows)
	}
	for _, st := range statuses {
		if got[st.Name] != st.State.String() {
			t.Errorf("overview: plugin %s state %q, want %q", st.Name, got[st.Name], st.State)
		}
	}

	// The graph: an SVG box per plugin; a click shows the plugin's details.
	do("graph", chromedp.Navigate(adminURL+"/graph"), chromedp.WaitVisible(`#graph svg [data-plugin="auth"]`),
		chromedp.Click(`#graph svg [data-plugin="auth"] rect`), chromedp.WaitVisible(`#detail-options`), screenshot("graph"))
	if boxes := count("#graph svg g[data-plugin]"); boxes != len(statuses) {
		t.Errorf("the graph draws %d plugins, want %d", boxes, len(statuses))
	}
	if detail := value("plugin details", chromedp.Text("#detail")); !strings.Contains(detail, "auth@") || !strings.Contains(detail, "[redacted]") || strings.Contains(detail, key) {
		t.Errorf("auth's details: want its ID and its API keys redacted, got:\n%s", detail)
	}

	// The chains: the route that got traffic has calls, at auth's layer too.
	do("chains", chromedp.Navigate(adminURL+"/chains"), chromedp.WaitVisible(`section[data-chain="api: GET /hello"]`), screenshot("chains"))
	calls, _ := strconv.Atoi(attr(`section[data-chain="api: GET /hello"]`, "data-calls"))
	if calls < 4 {
		t.Errorf("chain api: GET /hello shows %d calls, want at least 4", calls)
	}
	// Live: two more calls show up without reloading the page (server-sent
	// events, then the live part swapped in).
	for range 2 {
		send("GET", "/api/hello", key, "")
	}
	do("chains, live", chromedp.WaitVisible(fmt.Sprintf(`section[data-chain="api: GET /hello"][data-calls="%d"]`, calls+2)))
	if n, _ := strconv.Atoi(attr(`section[data-chain="api: GET /hello"] tr[data-plugin="auth"]`, "data-calls")); n < 4 {
		t.Errorf("auth's layer in api: GET /hello shows %d calls, want at least 4", n)
	}

	// The inspector: the 401, short-circuited by auth, and its timeline.
	do("inspector", chromedp.Navigate(adminURL+"/calls"), chromedp.WaitVisible(`#calls tr[data-status="401"] [data-short="auth"]`), screenshot("inspector"))
	id := attr(`#calls tr[data-status="401"]`, "data-call")
	do("call", chromedp.Navigate(adminURL+"/calls/"+id), chromedp.WaitVisible(`#timeline tr[data-plugin="auth"]`), screenshot("call"))
	if short := attr(`#timeline tr[data-plugin="auth"]`, "data-short"); short != "true" {
		t.Errorf("call %s: auth's row says short-circuit %q, want true", id, short)
	}
	if after := value("after-hooks", chromedp.Text("#after-hooks")); !strings.Contains(after, "visits") {
		t.Errorf("call %s: after-hooks %q, want visits' among them", id, after)
	}

	// Jobs: the dead job, retried from the page, runs again and succeeds.
	before := queue()
	do("jobs", chromedp.Navigate(adminURL+"/jobs"), chromedp.WaitVisible(`button.retry`), screenshot("jobs"),
		chromedp.Click(`button.retry`), chromedp.WaitVisible(`#done`), screenshot("jobs-retry-clicked"))
	eventually(t, "the retried job done", func() bool {
		q := queue()
		return q.Dead == 0 && q.Done == before.Done+1
	})
	do("jobs after retry", chromedp.Navigate(adminURL+"/jobs"), chromedp.WaitVisible(`#queues tr[data-queue="reports"]`), screenshot("jobs-retried"))
	if left := count("button.retry"); left != 0 {
		t.Errorf("%d dead jobs still shown after the retry", left)
	}
	t.Logf("screenshots in %s", shots)
}

// eventually polls cond until it holds, failing the test after 15s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 15s: %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
}
