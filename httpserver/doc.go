// Package httpserver fits ply to net/http.
//
// # Adapters
//
// [Layer] turns any func(http.Handler) http.Handler middleware into a ply
// layer, applied once, with no allocation per call. [Handler] serves a ply
// chain as an http.Handler. The call's request is the *http.Request and its
// response the http.ResponseWriter, a [ResponseWriter] that records the
// final status and the size, passes Flush, Hijack and ReadFrom on, and
// unwraps to the server's writer, so http.ResponseController keeps working
// through it.
//
// # Errors
//
// A handler or layer that returns an error has it answered once, where it
// first leaves the ply chain for net/http code: the innermost adapted
// middleware it returns through, else [Handler]. So net/http middleware
// outside (an access log, metrics) sees the status the client gets.
// [Status] maps the error: its own StatusCode() or HTTPStatus(), 413 for a
// body over the limit, 408 for a body past its timeout, 504 for a passed
// deadline, 499 for a client that went away, else 500. The answer is a
// problem body (RFC 9457) without the error's text, and the error is
// logged once, "request failed", with the module, the handler, the request
// ID when a request ID layer outside set one, and, for a
// [*github.com/plykit/ply.PluginError], the plugin.
//
// # Server
//
// [Server] is the HTTP host as a plugin. Its [Options] bound what a client
// can hold: headers within ReadHeaderTimeout (10s), the body within
// BodyTimeout (30s, a deadline on the body alone, so long streamed
// responses are not cut) and MaxBodyBytes (1 MiB), idle keep-alive
// connections closed after IdleTimeout (2m). Health and readiness are
// served on HealthPath and ReadyPath; the readiness answer names the
// failing plugins only when ReadyDetails is set. Plugins mount their own
// endpoints (the metrics plugin's /metrics) with [Server.Handle]: on Addr
// by default, where anyone who reaches the server can read them, or on a
// separate listener, loopback unless told otherwise, when AdminAddr is set.
//
// # Reloads
//
// A reload that keeps the server ([github.com/plykit/ply.Host.Reload])
// keeps its listeners and its routes: they serve the same chains, which
// swap to the new generation by themselves. A reload that replaces it (its
// options changed) hands each listener whose address did not change to
// the new server ([Server.ExportState]): one accept loop owns the socket
// and feeds the newest server, so no connection is refused, while the old
// server finishes the requests it has and closes only its own side. A
// changed address gets a new socket; the old one closes with the old
// server. Stop serves the first request of every connection it accepted
// before it shuts down.
package httpserver
