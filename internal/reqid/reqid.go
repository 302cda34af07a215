// Package reqid carries a request's ID in its context. The request ID layer
// (package middleware) sets it and the server (package httpserver) logs it
// with a failed request; neither imports the other, so the key lives here.
package reqid

import "context"

type key struct{}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, key{}, id)
}

// From returns the ID that ctx carries, or "".
func From(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
	return id
}
