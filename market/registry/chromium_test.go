package registry_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/plykit/ply/internal/browsertest"
	"github.com/plykit/ply/market/registry"
)

// The registry's pages in Debian's chromium: search, open a plugin, post
// a review with the form, see the new average; a second reviewer moves it
// again, and a review's markup is shown as text.
func TestPagesInChromium(t *testing.T) {
	b := browsertest.Start(t, "registry", 1200, 1000)
	ctx := b.Ctx
	e := newEnv(t, registry.Config{})
	for _, g := range [][3]string{{"tagger", "tagger", "1.0.0"}, {"greeter", "greeter", "1.0.0"}} {
		if status, msg := e.upload(t, e.token, e.signed(e.key, g[1], g[2], e.mods[g[0]])); status != http.StatusCreated {
			t.Fatalf("publish %s: %d %s", g[0], status, msg)
		}
	}
	alice, _ := e.srv.AddUser(t.Context(), "alice")
	bob, _ := e.srv.AddUser(t.Context(), "bob")

	// Each step has its own bound, so that a step that hangs is named and
	// does not eat the others' time.
	step := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 30*time.Second) }
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := step()
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	screenshot := b.Screenshot
	text := func(sel string) string {
		t.Helper()
		sctx, cancel := step()
		defer cancel()
		v, err := chromedp.Run(sctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(v)
	}
	review := func(who, token, rating, body string) {
		t.Helper()
		do("review by "+who,
			chromedp.SendKeys("#token", token), chromedp.SetValue("#rating-input", rating), chromedp.SendKeys("#text", body),
			// The new page has the user's review; the page the form was on, which
			// may say "posted" already, does not.
			chromedp.Click("#post"), chromedp.WaitVisible(`.review[data-user="`+who+`"]`), chromedp.WaitVisible("#posted"),
			screenshot("reviewed-by-"+who))
	}

	do("search", chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(`input[name="q"]`),
		chromedp.SendKeys(`input[name="q"]`, "greet"), chromedp.Click("#search"),
		chromedp.WaitVisible(`#results a[href="/plugins/greeter"]`), screenshot("search"))
	sctx, cancel := step()
	nodes, err := chromedp.Run(sctx, chromedp.Nodes(chromedp.CSSAll("#results a.plugin")))
	cancel()
	if err != nil || len(nodes) != 1 {
		t.Errorf("search for greet lists %d plugins (%v), want greeter alone", len(nodes), err)
	}

	do("open the plugin", chromedp.Click(`#results a[href="/plugins/greeter"]`), chromedp.WaitVisible("#versions"), screenshot("plugin"))
	if got := text("#name"); got != "greeter 1.0.0" {
		t.Errorf("the plugin page's title = %q", got)
	}
	if got := text("#rating"); got != "No reviews yet." {
		t.Errorf("rating before any review = %q", got)
	}

	review("alice", alice, "4", "<b>works</b> with tagger")
	if avg, count := text("#average"), text("#count"); avg != "4.0" || count != "1" {
		t.Errorf("after alice's review: average %s of %s, want 4.0 of 1", avg, count)
	}
	review("bob", bob, "1", "not for me")
	if avg, count := text("#average"), text("#count"); avg != "2.5" || count != "2" {
		t.Errorf("after bob's review: average %s of %s, want 2.5 of 2", avg, count)
	}
	sctx, cancel = step()
	html, err := chromedp.Run(sctx, chromedp.InnerHTML(`.review[data-user="alice"] .text`))
	cancel()
	if err != nil || html != "&lt;b&gt;works&lt;/b&gt; with tagger" {
		t.Errorf("alice's review as HTML = %q (%v): want the markup escaped", html, err)
	}
	if got := text(".review"); !strings.Contains(got, "bob") {
		t.Errorf("the first review = %q, want bob's, the latest", got)
	}
	do("search shows the average", chromedp.Navigate(e.url+"/?q=greeter"), chromedp.WaitVisible("#results"), screenshot("search-rated"))
	if got := text("#results tbody tr"); !strings.Contains(got, "2.5 (2)") {
		t.Errorf("the search row = %q, want the average 2.5 of 2", got)
	}
}
