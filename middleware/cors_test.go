package middleware_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/plykit/ply/middleware"
	"github.com/plykit/ply/option"
)

func TestCORS(t *testing.T) {
	mw := must(middleware.NewCORS(middleware.CORSOptions{
		AllowedOrigins:   []string{"https://app.example.com"},
		AllowedMethods:   []string{http.MethodGet, http.MethodPut},
		AllowedHeaders:   []string{"Authorization", "Content-Type"},
		ExposedHeaders:   []string{"X-Request-Id"},
		MaxAge:           600,
		AllowCredentials: true,
	}))(t)
	srv := serve(t, mw(ok))

	t.Run("preflight", func(t *testing.T) {
		req := newRequest(t, http.MethodOptions, srv.URL+"/items", nil,
			"Origin", "https://app.example.com",
			"Access-Control-Request-Method", "PUT",
			"Access-Control-Request-Headers", "authorization")
		res := do(t, srv.Client(), req)
		if res.status != http.StatusNoContent {
			t.Fatalf("status = %d, want 204", res.status)
		}
		for k, want := range map[string]string{
			"Access-Control-Allow-Origin":      "https://app.example.com",
			"Access-Control-Allow-Methods":     "PUT",
			"Access-Control-Allow-Headers":     "authorization",
			"Access-Control-Allow-Credentials": "true",
			"Access-Control-Max-Age":           "600",
		} {
			if got := res.header.Get(k); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
	})
	t.Run("actual request", func(t *testing.T) {
		res := get(t, srv.Client(), srv.URL, "Origin", "https://app.example.com")
		if res.status != 200 || res.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
			res.header.Get("Access-Control-Expose-Headers") != "X-Request-Id" {
			t.Errorf("got %d %v, want 200 with CORS headers", res.status, res.header)
		}
	})
	t.Run("disallowed origin", func(t *testing.T) {
		res := get(t, srv.Client(), srv.URL, "Origin", "https://evil.example.com")
		if got := res.header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("Access-Control-Allow-Origin = %q, want none", got)
		}
	})
}

func TestCORSOptionsValidate(t *testing.T) {
	for _, tt := range []struct {
		name    string
		opts    middleware.CORSOptions
		field   string // "" for valid options
		problem string // part of the problem
	}{
		{name: "default", opts: middleware.CORSOptions{}},
		{name: "any origin without credentials", opts: middleware.CORSOptions{AllowedOrigins: []string{"*", "https://*", "null"}}},
		{name: "subdomain wildcard with credentials", opts: middleware.CORSOptions{AllowedOrigins: []string{"https://*.example.com", "https://*.example.com:8443"}, AllowCredentials: true}},
		{name: "any port of one host with credentials", opts: middleware.CORSOptions{AllowedOrigins: []string{"http://localhost:*"}, AllowCredentials: true}},
		{name: "credentials with the default origins", opts: middleware.CORSOptions{AllowCredentials: true}, field: "allowedOrigins", problem: "must list the origins"},
		{name: "credentials with *", opts: middleware.CORSOptions{AllowedOrigins: []string{"*"}, AllowCredentials: true}, field: "allowedOrigins[0]", problem: "every site"},
		{name: "credentials with https://*", opts: middleware.CORSOptions{AllowedOrigins: []string{"https://*"}, AllowCredentials: true}, field: "allowedOrigins[0]", problem: "covers hosts of any site"},
		{name: "credentials with a wildcard scheme", opts: middleware.CORSOptions{AllowedOrigins: []string{"*://app.example.com"}, AllowCredentials: true}, field: "allowedOrigins[0]", problem: "covers hosts of any site"},
		{name: "credentials with a wildcard not before a dot", opts: middleware.CORSOptions{AllowedOrigins: []string{"https://*example.com"}, AllowCredentials: true}, field: "allowedOrigins[0]", problem: "covers hosts of any site"},
		{name: "credentials with a top-level wildcard", opts: middleware.CORSOptions{AllowedOrigins: []string{"https://*.com"}, AllowCredentials: true}, field: "allowedOrigins[0]", problem: "covers hosts of any site"},
		{name: "credentials with null", opts: middleware.CORSOptions{AllowedOrigins: []string{"https://a.example.com", "NULL"}, AllowCredentials: true}, field: "allowedOrigins[1]", problem: "sandboxed"},
		{name: "two wildcards", opts: middleware.CORSOptions{AllowedOrigins: []string{"https://*.*.example.com"}}, field: "allowedOrigins[0]", problem: "more than one"},
		{name: "a path", opts: middleware.CORSOptions{AllowedOrigins: []string{"https://app.example.com/"}}, field: "allowedOrigins[0]", problem: "not an origin"},
		{name: "no scheme", opts: middleware.CORSOptions{AllowedOrigins: []string{"app.example.com"}}, field: "allowedOrigins[0]", problem: "not an origin"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := middleware.NewCORS(tt.opts)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("NewCORS(%+v) = %v, want no error", tt.opts, err)
				}
				return
			}
			fe, ok := errors.AsType[*option.Error](err)
			if !ok {
				t.Fatalf("NewCORS(%+v) error = %v, want an *option.Error", tt.opts, err)
			}
			if fe.Field != tt.field || !strings.Contains(fe.Problem, tt.problem) {
				t.Errorf("error = %s: %s, want %s: …%s…", fe.Field, fe.Problem, tt.field, tt.problem)
			}
			if fe.Plugin != "cors" {
				t.Errorf("error = %v, want an *option.Error of layer cors", err)
			}
		})
	}
}

// Whatever origin Validate accepts with credentials, a site of the fuzzer's
// choosing (other than that very origin) must not be allowed to read responses.
func FuzzCORSCredentialedOrigin(f *testing.F) {
	for _, s := range []string{"https://*", "https://*.example.com", "*", "null", "http://localhost:*", "*://a.b", "https://*.co", "https://a.example.com"} {
		f.Add(s)
	}
	attackers := []string{"https://attacker.invalid", "http://attacker.invalid", "null"}
	f.Fuzz(func(t *testing.T, origin string) {
		mw, err := middleware.NewCORS(middleware.CORSOptions{AllowedOrigins: []string{origin}, AllowCredentials: true})
		if err != nil {
			return
		}
		h := mw(ok)
		for _, attacker := range attackers {
			if strings.EqualFold(origin, attacker) {
				continue
			}
			r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/", nil)
			r.Header.Set("Origin", attacker)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if got := w.Header().Get("Access-Control-Allow-Origin"); got != "" {
				t.Fatalf("allowed origin %q with credentials lets %s read responses (Access-Control-Allow-Origin %q)", origin, attacker, got)
			}
		}
	})
}
