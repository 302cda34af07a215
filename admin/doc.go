// Package admin is ply's admin page: a small web application that shows a
// host as it runs — its plugins and their states, the plugin graph, each
// handler's chain with live figures per layer, a request inspector, the job
// queues and event topics, reloads and logs — and lets an operator retry a
// dead job or reload the configuration.
//
// # Serving
//
// [New] returns the page as a plugin ([Plugin]); register it with the host
// it shows (ply run does with --admin ADDR). It is off unless registered,
// serves on loopback unless [Options.AllowRemote] says otherwise, and every
// request needs the token ([Options.Token], else $PLY_ADMIN_TOKEN, else a
// random one that [Plugin.LoginURL] carries): as "Authorization: Bearer
// TOKEN", or as the HttpOnly, SameSite=Strict cookie that GET
// /login?token=TOKEN sets before sending the browser to the overview.
// Without it every page and API answers 401. State-changing requests are
// POSTs: Go's [net/http.CrossOriginProtection] refuses them from another
// origin (403), and one authenticated by the cookie must also carry the
// page's CSRF token (form field csrf or header X-CSRF-Token; 403 without).
//
// The pages are server-rendered [html/template] with one small embedded
// script (no build step) that swaps in each page's live part on every
// server-sent event of GET /events (one a second).
//
// # What it measures, and what that costs
//
// The plugin measures every layer of every chain ([ply.LayerObserver]):
// calls, errors, short-circuits and self-time p50/p99, in lock-free
// log-linear histograms (16 buckets per power of two: within 6.25%). Its own
// layer sits outside all others (priority 1): it counts each chain's calls
// and keeps one call in [Options.SampleEvery] (100 by default) per chain
// for the inspector, with each layer's start, time, self-time,
// short-circuit and error. With the page on, every chain is measured: the
// kernel reads the clock twice per layer, as it does for a metrics plugin
// that measures layers, and the page adds a few atomic adds per layer and
// call (BenchmarkChain). With the page off, nothing.
//
// # JSON API
//
// Every page has its data under /api, with the same authentication. Times
// are nanoseconds.
//
//	GET  /api/plugins                        {"plugins": [PluginRow…], "tenants": [Tenant…]}
//	GET  /api/plugins/{name}                 PluginDetail: info, options (secrets redacted), why it sits where it does
//	GET  /api/graph.svg                      the plugin graph as SVG, plugins coloured by state
//	GET  /api/chains                         [ChainFigures…]: each chain's layers with calls, errors, short-circuits, p50, p99
//	GET  /api/calls                          [Call…]: the sampled calls, newest first
//	GET  /api/calls/{id}                     Call: one sampled call with its layers' timeline
//	GET  /api/jobs                           JobsView: queues (pending, scheduled, running, done, retried, dead) and topics with rates
//	GET  /api/jobs/{queue}/dead?limit=N      [DeadJob…], oldest first (limit 1..10000, default 100)
//	POST /api/jobs/{queue}/dead/{seq}/retry  moves the dead job back to its queue: {"ok": "retry"}
//	POST /api/jobs/{queue}/dead/{seq}/discard removes it: {"ok": "discard"}
//	GET  /api/reloads                        [Reload…]: the last 50 reloads, newest first
//	GET  /api/config                         {"file": …, "data": …}: the configuration the host runs
//	POST /api/reload/preview                 body: a configuration; Preview: the plugins added, removed, rebuilt, and the line diff
//	POST /api/reload                         body: a configuration; applies it: {"summary", "outcome", "error"}
//	GET  /api/logs?plugin=NAME&limit=N       [Line…]: the last log lines, of one plugin ("host": of none)
//
// Errors answer {"error": "…"} with 400 (bad input), 404 (no such thing),
// 422 (a configuration with problems, or a reload that failed) or 500.
package admin
