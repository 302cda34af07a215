package middleware

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/textproto"

	"github.com/plykit/ply/internal/reqid"
)

// RequestIDOptions configures [NewRequestID]. The zero value reads and writes
// X-Request-Id and ignores incoming IDs.
type RequestIDOptions struct {
	// Header is the request and response header that carries the ID. Default "X-Request-Id".
	Header string `json:"header,omitempty" jsonschema:"pattern=^[A-Za-z0-9-]+$"`
	// TrustIncoming keeps an ID sent by the client (or a proxy in front) when it is
	// 1 to 128 visible ASCII characters; otherwise a new one is generated. Default false:
	// enable it only behind a proxy that sets or strips the header.
	TrustIncoming bool `json:"trustIncoming,omitempty"`
}

// validHeaderName reports whether name is empty (the default) or made of letters,
// digits and '-'.
func validHeaderName(name string) bool {
	for _, c := range []byte(name) {
		if !headerNameByte(c) {
			return false
		}
	}
	return true
}

// headerNameByte reports whether c is a letter, a digit or '-'.
func headerNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
}

// RequestIDFrom returns the request ID that a [NewRequestID] layer stored in ctx,
// or "" when there is none.
func RequestIDFrom(ctx context.Context) string {
	return reqid.From(ctx)
}

// NewRequestID returns a layer that gives each request an ID: the incoming one when
// TrustIncoming is set and it is well-formed, else 16 random bytes from crypto/rand
// as 32 hex digits. The ID is set on the request header (for inner layers and
// proxies), on the response header, and in the context for [RequestIDFrom].
func NewRequestID(opts RequestIDOptions) (func(http.Handler) http.Handler, error) {
	if err := checked("requestid", opts); err != nil {
		return nil, err
	}
	header := "X-Request-Id"
	if opts.Header != "" {
		header = textproto.CanonicalMIMEHeaderKey(opts.Header)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := ""
			if opts.TrustIncoming {
				if in := r.Header.Get(header); validRequestID(in) {
					id = in
				}
			}
			if id == "" {
				id = newRequestID()
				r.Header.Set(header, id)
			}
			w.Header().Set(header, id)
			next.ServeHTTP(w, r.WithContext(reqid.With(r.Context(), id)))
		})
	}, nil
}

// newRequestID returns 16 random bytes as 32 lower-case hex digits.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails: crypto/rand.Read panics instead
	var s [32]byte
	hex.Encode(s[:], b[:])
	return string(s[:])
}

// validRequestID reports whether id is 1 to 128 visible ASCII characters, which is
// safe to log and echo.
func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := range len(id) {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}
