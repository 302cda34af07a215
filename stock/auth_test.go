package stock_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/plykit/ply"
	"github.com/plykit/ply/middleware"
	"github.com/plykit/ply/option"
	"github.com/plykit/ply/stock"
)

// The attack: with a JWT key source and no audience, a token the provider
// issued for another service (aud "billing") was accepted. The host now
// refuses to start, naming the plugin, the field and the fix.
func TestAuthJWTNeedsIssuerAndAudience(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	opts := middleware.AuthOptions{JWT: middleware.JWTOptions{PEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}}
	h, err := startHost(t, []ply.Plugin{stock.NewAuth(opts)}, []ply.Handler{route("GET /orders", hello)})
	if err == nil {
		tok, _ := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
			"sub": "svc", "iss": "https://id.example.com/", "aud": "billing", "exp": time.Now().Add(time.Minute).Unix(),
		}).SignedString(key)
		res, _ := h.do(t, http.MethodGet, "/orders", http.Header{"Authorization": {"Bearer " + tok}})
		t.Fatalf("host started; a token for audience billing got %d; want a config error", res.StatusCode)
	}
	var fields []string
	for _, e := range flatten(err) {
		ce, ok := e.(*option.Error) //nolint:errorlint // flatten walked the tree: each error is checked itself, not what it wraps
		if ok && ce.Plugin == "auth" && strings.Contains(ce.Problem, "jwt.any") {
			fields = append(fields, ce.Field)
		}
	}
	slices.Sort(fields)
	if strings.Join(fields, " ") != "jwt.audience jwt.issuer" {
		t.Errorf("start error = %v; want config errors of plugin auth at jwt.issuer and jwt.audience that name the fix", err)
	}
}

// flatten returns err and every error it wraps, depth first.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	out := []error{err}
	switch u := err.(type) { //nolint:errorlint // walking the tree itself
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			out = append(out, flatten(e)...)
		}
	case interface{ Unwrap() error }:
		out = append(out, flatten(u.Unwrap())...)
	}
	return out
}

// The attack: with the JWKS endpoint down at start, the host reported every
// plugin healthy while it rejected every token. The auth plugin now reports
// itself degraded, with the reason, until the first fetch succeeds; the host
// stays ready, as API keys still work.
func TestAuthJWKSDownIsDegraded(t *testing.T) {
	ln, err := new(net.ListenConfig).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String() + "/jwks.json"
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	opts := middleware.AuthOptions{
		APIKeys: []middleware.APIKey{{Name: "ops", Key: "k-ops-0123456789abcd"}},
		JWT:     middleware.JWTOptions{JWKSURL: down, Issuer: "https://id.example.com/", Audience: "shop"},
	}
	h := serve(t, []ply.Plugin{stock.NewAuth(opts)}, []ply.Handler{route("GET /orders", hello)})

	var auth ply.Status
	for _, st := range h.Health(t.Context()) {
		if st.Name == "auth" {
			auth = st
		}
	}
	if auth.State != ply.StateDegraded || !errors.Is(auth.Err, ply.ErrDegraded) || !strings.Contains(auth.Err.Error(), "not fetched yet") {
		t.Errorf("auth health = %v %v, want degraded: JWKS not fetched yet", auth.State, auth.Err)
	}
	if err := h.Ready(t.Context()); err != nil {
		t.Errorf("Ready = %v, want nil: a degraded plugin still serves API keys", err)
	}
	if res, _ := h.do(t, http.MethodGet, "/orders", http.Header{"Authorization": {"Bearer a.b.c"}}); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("token with the JWKS down: %d, want 401", res.StatusCode)
	}
	if res, _ := h.do(t, http.MethodGet, "/orders", http.Header{"X-Api-Key": {"k-ops-0123456789abcd"}}); res.StatusCode != http.StatusOK {
		t.Errorf("API key with the JWKS down: %d, want 200", res.StatusCode)
	}
}

// The attack: a proxy route behind auth passed the caller's API key on to
// the upstream. Through the host, the upstream now gets no credential
// unless forwardCredentials is set.
func TestAuthDoesNotForwardCredentialsUpstream(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Header.Get("X-API-Key")+"|"+r.Header.Get("Authorization"))
	}))
	t.Cleanup(upstream.Close)
	target, err := url.Parse(upstream.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = &http.Transport{DisableKeepAlives: true}
	for _, tt := range []struct {
		forward bool
		want    string
	}{
		{forward: false, want: "|"},
		{forward: true, want: "k-ops-0123456789abcd|"},
	} {
		opts := middleware.AuthOptions{APIKeys: []middleware.APIKey{{Name: "ops", Key: "k-ops-0123456789abcd"}}, ForwardCredentials: tt.forward}
		h := serve(t, []ply.Plugin{stock.NewAuth(opts)}, []ply.Handler{route("GET /api/", proxy.ServeHTTP)})
		res, body := h.do(t, http.MethodGet, "/api/orders", http.Header{"X-Api-Key": {"k-ops-0123456789abcd"}})
		if res.StatusCode != http.StatusOK || body != tt.want {
			t.Errorf("forwardCredentials %v: upstream got %d %q, want 200 %q", tt.forward, res.StatusCode, body, tt.want)
		}
	}
}
