// Package httpserver fits ply to net/http.
//
// # Adapters
//
// [Layer] turns any func(http.Handler) http.Handler middleware into a ply
// layer, applied once, with no allocation per call. [Handler] serves a ply
// chain as an http.Handler. The call's request is the *http.Request and its
// response the http.ResponseWriter, a [ResponseWriter] that records status
// and size and unwraps to the server's writer, so http.ResponseController
// keeps working through it.
package httpserver
