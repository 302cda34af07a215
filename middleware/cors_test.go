package middleware_test

import (
	"net/http"
	"testing"

	"github.com/plykit/ply/middleware"
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
	if _, err := middleware.NewCORS(middleware.CORSOptions{AllowCredentials: true}); err == nil {
		t.Error("NewCORS accepted credentials for every origin")
	}
}
