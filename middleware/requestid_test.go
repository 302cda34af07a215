package middleware_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/plykit/ply/middleware"
)

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

// echoRequestID answers with the ID from the context and the header inner layers see.
var echoRequestID = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Seen-Header", r.Header.Get("X-Request-Id"))
	_, _ = w.Write([]byte(middleware.RequestIDFrom(r.Context())))
})

func TestRequestIDGenerated(t *testing.T) {
	mw := must(middleware.NewRequestID(middleware.RequestIDOptions{}))(t)
	srv := serve(t, mw(echoRequestID))

	first := get(t, srv.Client(), srv.URL, "X-Request-Id", "client-chosen")
	id := first.header.Get("X-Request-Id")
	if !hex32.MatchString(id) {
		t.Fatalf("X-Request-Id = %q, want 32 hex digits (an incoming ID is not trusted by default)", id)
	}
	if first.body != id || first.header.Get("Seen-Header") != id {
		t.Errorf("handler saw ID %q and header %q, want %q", first.body, first.header.Get("Seen-Header"), id)
	}
	if second := get(t, srv.Client(), srv.URL).header.Get("X-Request-Id"); second == id {
		t.Errorf("two requests got the same ID %q", id)
	}
}

func TestRequestIDTrustIncoming(t *testing.T) {
	mw := must(middleware.NewRequestID(middleware.RequestIDOptions{Header: "x-correlation-id", TrustIncoming: true}))(t)
	srv := serve(t, mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(middleware.RequestIDFrom(r.Context())))
	})))
	for _, tt := range []struct {
		name, in string
		keep     bool
	}{
		{name: "well-formed", in: "abc-123", keep: true},
		{name: "too long", in: strings.Repeat("a", 129)},
		{name: "space", in: "a b"},
		{name: "non-ASCII", in: "caf\u00e9"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(t, http.MethodGet, srv.URL, nil)
			req.Header["X-Correlation-Id"] = []string{tt.in}
			res := do(t, srv.Client(), req)
			got := res.header.Get("X-Correlation-Id")
			if got != res.body {
				t.Errorf("header %q != context %q", got, res.body)
			}
			if tt.keep && got != tt.in {
				t.Errorf("ID = %q, want incoming %q", got, tt.in)
			}
			if !tt.keep && !hex32.MatchString(got) {
				t.Errorf("ID = %q, want a generated one", got)
			}
		})
	}
}

func TestRequestIDOptionsValidate(t *testing.T) {
	if _, err := middleware.NewRequestID(middleware.RequestIDOptions{Header: "X Bad"}); err == nil {
		t.Error("NewRequestID accepted header \"X Bad\"")
	}
}
