package middleware_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/plykit/ply/middleware"
)

// whoami answers with the principal the auth layer stored.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	p := middleware.PrincipalFrom(r.Context())
	if p == nil {
		http.Error(w, "no principal", http.StatusInternalServerError)
		return
	}
	_, _ = w.Write([]byte(p.Subject + "|" + p.KeyName + "|" + strings.Join(p.Scopes, " ")))
})

func TestAuthAPIKey(t *testing.T) {
	a := must(middleware.NewAuth(middleware.AuthOptions{
		Realm: "shop",
		APIKeys: []middleware.APIKey{
			{Name: "billing", Key: "k-billing-0123456789", Scopes: []string{"orders:read"}},
			{Name: "ops", Key: "k-ops-0123456789abcd", Scopes: []string{"orders:read", "orders:write"}},
		},
		RequiredScopes: []string{"orders:read"},
	}, nil))(t)
	defer a.Close()
	srv := serve(t, a.Middleware()(whoami))

	for _, tt := range []struct {
		name      string
		headers   []string
		status    int
		body      string
		challenge string
	}{
		{name: "X-API-Key", headers: []string{"X-API-Key", "k-billing-0123456789"}, status: 200, body: "billing|billing|orders:read"},
		{name: "bearer", headers: []string{"Authorization", "Bearer k-ops-0123456789abcd"}, status: 200, body: "ops|ops|orders:read orders:write"},
		{name: "missing", status: 401, challenge: `Bearer realm="shop"`},
		{name: "invalid", headers: []string{"X-API-Key", "k-billing-0123456788"}, status: 401, challenge: `Bearer realm="shop", error="invalid_token"`},
		{name: "other scheme", headers: []string{"Authorization", "Basic Zm9vOmJhcg=="}, status: 401, challenge: `Bearer realm="shop", error="invalid_token"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := get(t, srv.Client(), srv.URL, tt.headers...)
			if res.status != tt.status {
				t.Fatalf("status = %d, want %d (body %s)", res.status, tt.status, res.body)
			}
			if tt.body != "" && res.body != tt.body {
				t.Errorf("body = %q, want %q", res.body, tt.body)
			}
			if got := res.header.Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.challenge)
			}
		})
	}
}

func TestAuthAPIKeyMissingScopeIs403(t *testing.T) {
	a := must(middleware.NewAuth(middleware.AuthOptions{
		APIKeys:        []middleware.APIKey{{Name: "reader", Key: "k-reader-0123456789", Scopes: []string{"orders:read"}}},
		RequiredScopes: []string{"orders:write"},
	}, nil))(t)
	srv := serve(t, a.Middleware()(whoami))

	res := get(t, srv.Client(), srv.URL, "X-API-Key", "k-reader-0123456789")
	if res.status != http.StatusForbidden {
		t.Fatalf("status = %d, want 403", res.status)
	}
	if got, want := res.header.Get("WWW-Authenticate"), `Bearer realm="ply", error="insufficient_scope"`; got != want {
		t.Errorf("WWW-Authenticate = %q, want %q", got, want)
	}
}

// signer signs test tokens with a key that a JWKS server publishes.
type signer struct {
	kid    string
	method jwt.SigningMethod
	key    any
}

func (s signer) sign(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(s.method, claims)
	tok.Header["kid"] = s.kid
	raw, err := tok.SignedString(s.key)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwks returns a JWK Set with the public keys of an EC and an RSA signer.
func jwks(t *testing.T, ec *ecdsa.PrivateKey, rs *rsa.PrivateKey) []byte {
	t.Helper()
	pt, err := ec.PublicKey.ECDH() // uncompressed point: 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	xy := pt.Bytes()[1:]
	set := map[string]any{"keys": []map[string]any{
		{"kty": "EC", "crv": "P-256", "kid": "ec-1", "alg": "ES256", "use": "sig", "x": b64(xy[:32]), "y": b64(xy[32:])},
		{"kty": "RSA", "kid": "rsa-1", "alg": "RS256", "use": "sig", "n": b64(rs.N.Bytes()), "e": b64(big.NewInt(int64(rs.E)).Bytes())},
	}}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAuthJWTFromJWKSURL(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	set := jwks(t, ecKey, rsaKey)
	keys := serve(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(set)
	}))

	a := must(middleware.NewAuth(middleware.AuthOptions{
		JWT: middleware.JWTOptions{
			JWKSURL:  keys.URL + "/.well-known/jwks.json",
			Issuer:   "https://issuer.test",
			Audience: "shop",
			Leeway:   5 * time.Second,
		},
		RequiredScopes: []string{"orders:read"},
	}, keys.Client()))(t)
	defer a.Close()
	srv := serve(t, a.Middleware()(whoami))

	es := signer{kid: "ec-1", method: jwt.SigningMethodES256, key: ecKey}
	rs := signer{kid: "rsa-1", method: jwt.SigningMethodRS256, key: rsaKey}
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forged := signer{kid: "ec-1", method: jwt.SigningMethodES256, key: otherKey}
	now := time.Now()
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{
			"sub": "user-7", "iss": "https://issuer.test", "aud": "shop",
			"exp": now.Add(time.Minute).Unix(), "iat": now.Unix(), "scope": "orders:read profile",
		}
		if mod != nil {
			mod(c)
		}
		return c
	}
	for _, tt := range []struct {
		name   string
		token  string
		status int
		body   string
		errStr string
	}{
		{name: "ES256", token: es.sign(t, claims(nil)), status: 200, body: "user-7||orders:read profile"},
		{name: "RS256 with scp array", token: rs.sign(t, claims(func(c jwt.MapClaims) {
			delete(c, "scope")
			c["scp"] = []string{"orders:read"}
		})), status: 200, body: "user-7||orders:read"},
		{name: "expired beyond leeway", token: es.sign(t, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-10 * time.Second).Unix() })), status: 401, errStr: "invalid_token"},
		{name: "expired within leeway", token: es.sign(t, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-2 * time.Second).Unix() })), status: 200, body: "user-7||orders:read profile"},
		{name: "no exp", token: es.sign(t, claims(func(c jwt.MapClaims) { delete(c, "exp") })), status: 401, errStr: "invalid_token"},
		{name: "wrong issuer", token: es.sign(t, claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.test" })), status: 401, errStr: "invalid_token"},
		{name: "wrong audience", token: es.sign(t, claims(func(c jwt.MapClaims) { c["aud"] = "other" })), status: 401, errStr: "invalid_token"},
		{name: "forged signature", token: forged.sign(t, claims(nil)), status: 401, errStr: "invalid_token"},
		{name: "missing scope", token: es.sign(t, claims(func(c jwt.MapClaims) { c["scope"] = "profile" })), status: 403, errStr: "insufficient_scope"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := get(t, srv.Client(), srv.URL, "Authorization", "Bearer "+tt.token)
			if res.status != tt.status {
				t.Fatalf("status = %d, want %d (body %s)", res.status, tt.status, res.body)
			}
			if tt.body != "" && res.body != tt.body {
				t.Errorf("body = %q, want %q", res.body, tt.body)
			}
			if want := `error="` + tt.errStr + `"`; tt.errStr != "" && !strings.Contains(res.header.Get("WWW-Authenticate"), want) {
				t.Errorf("WWW-Authenticate = %q, want it to contain %s", res.header.Get("WWW-Authenticate"), want)
			}
		})
	}
}

func TestAuthJWTStaticPEMAndJWKS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024) //nolint:gosec // a test key, only used to fill the set
	if err != nil {
		t.Fatal(err)
	}
	tok := signer{kid: "ec-1", method: jwt.SigningMethodES256, key: key}.sign(t, jwt.MapClaims{
		"sub": "svc", "exp": time.Now().Add(time.Minute).Unix(),
	})
	for name, opts := range map[string]middleware.JWTOptions{
		"pem":  {PEM: pemText},
		"jwks": {JWKS: jwks(t, key, rsaKey)},
	} {
		t.Run(name, func(t *testing.T) {
			a := must(middleware.NewAuth(middleware.AuthOptions{JWT: opts}, nil))(t)
			srv := serve(t, a.Middleware()(whoami))
			if res := get(t, srv.Client(), srv.URL, "Authorization", "Bearer "+tok); res.status != 200 || res.body != "svc||" {
				t.Errorf("got %d %q, want 200 \"svc||\"", res.status, res.body)
			}
		})
	}
}

func TestAuthOptionsValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts middleware.AuthOptions
	}{
		{name: "nothing to check", opts: middleware.AuthOptions{}},
		{name: "short key", opts: middleware.AuthOptions{APIKeys: []middleware.APIKey{{Name: "a", Key: "short"}}}},
		{name: "duplicate name", opts: middleware.AuthOptions{APIKeys: []middleware.APIKey{
			{Name: "a", Key: "0123456789abcdef"}, {Name: "a", Key: "0123456789abcdeg"}}}},
		{name: "two key sources", opts: middleware.AuthOptions{JWT: middleware.JWTOptions{PEM: "x", JWKSURL: "https://x"}}},
		{name: "symmetric algorithm", opts: middleware.AuthOptions{JWT: middleware.JWTOptions{PEM: "x", Algorithms: []string{"HS256"}}}},
		{name: "bad PEM", opts: middleware.AuthOptions{JWT: middleware.JWTOptions{PEM: "not pem"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, err := middleware.NewAuth(tt.opts, nil)
			if err == nil {
				a.Close()
				t.Fatalf("NewAuth(%+v) succeeded, want an error", tt.opts)
			}
			t.Log(err)
		})
	}
}
