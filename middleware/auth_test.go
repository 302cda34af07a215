package middleware_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/plykit/ply"
	"github.com/plykit/ply/middleware"
	"github.com/plykit/ply/option"
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
	}, nil, discardLogger()))(t)
	defer closeOK(t, a)
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
	}, nil, discardLogger()))(t)
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
	}, keys.Client(), discardLogger()))(t)
	defer closeOK(t, a)
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
		"sub": "svc", "exp": time.Now().Add(time.Minute).Unix(), "iss": "https://issuer.test", "aud": "shop",
	})
	for name, opts := range map[string]middleware.JWTOptions{
		"pem":  {PEM: pemText, Issuer: "https://issuer.test", Audience: "shop"},
		"jwks": {JWKS: jwks(t, key, rsaKey), AnyIssuer: true, AnyAudience: true},
	} {
		t.Run(name, func(t *testing.T) {
			a := must(middleware.NewAuth(middleware.AuthOptions{JWT: opts}, nil, discardLogger()))(t)
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
			a, err := middleware.NewAuth(tt.opts, nil, discardLogger())
			if err == nil {
				closeOK(t, a)
				t.Fatalf("NewAuth(%+v) succeeded, want an error", tt.opts)
			}
			t.Log(err)
		})
	}
}

// Each rejected credential is logged at warn level with the reason and the
// client, never the credential; a request without credentials is not.
func TestAuthLogsRejectedCredentials(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forged := signer{kid: "ec-1", method: jwt.SigningMethodES256, key: other}.sign(t, jwt.MapClaims{
		"sub": "mallory", "iss": "https://issuer.test", "aud": "shop", "exp": time.Now().Add(time.Minute).Unix(),
	})
	logger, logs := newLogger()
	a := must(middleware.NewAuth(middleware.AuthOptions{
		APIKeys: []middleware.APIKey{{Name: "reader", Key: "k-reader-0123456789", Scopes: []string{"read"}}},
		JWT: middleware.JWTOptions{
			PEM:    string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
			Issuer: "https://issuer.test", Audience: "shop",
		},
		RequiredScopes: []string{"write"},
	}, nil, logger))(t)
	srv := serve(t, a.Middleware()(whoami))

	for _, tt := range []struct {
		name, header, value string
		status              int
		reason              string // "" for no log record
	}{
		{name: "unknown API key", header: "X-API-Key", value: "k-guess-0123456789", status: 401, reason: "unknown API key"},
		{name: "forged token", header: "Authorization", value: "Bearer " + forged, status: 401, reason: "invalid token: token signature is invalid"},
		{name: "basic credentials", header: "Authorization", value: "Basic bWFsbG9yeTpodW50ZXIy", status: 401, reason: "not a bearer credential"},
		{name: "missing scope", header: "X-API-Key", value: "k-reader-0123456789", status: 403, reason: "missing scope write"},
		{name: "no credentials", status: 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(logs.records(t))
			var headers []string
			if tt.header != "" {
				headers = []string{tt.header, tt.value}
			}
			if res := get(t, srv.Client(), srv.URL+"/orders", headers...); res.status != tt.status {
				t.Fatalf("status = %d, want %d", res.status, tt.status)
			}
			recs := logs.records(t)[before:]
			if tt.reason == "" {
				if len(recs) != 0 {
					t.Fatalf("logged %v, want nothing", recs)
				}
				return
			}
			if len(recs) != 1 {
				t.Fatalf("logged %d records, want 1: %v", len(recs), recs)
			}
			rec := recs[0]
			if rec["level"] != "WARN" || !strings.HasPrefix(rec["reason"].(string), tt.reason) || rec["client"] != "127.0.0.1" ||
				rec["header"] != tt.header || rec["path"] != "/orders" {
				t.Errorf("record = %v, want level WARN, reason %q, client 127.0.0.1, header %s, path /orders", rec, tt.reason, tt.header)
			}
			raw, _ := json.Marshal(rec)
			secret := strings.TrimPrefix(strings.TrimPrefix(tt.value, "Bearer "), "Basic ")
			if strings.Contains(string(raw), secret) || strings.Contains(string(raw), secret[len(secret)/2:]) {
				t.Errorf("record %s contains the credential", raw)
			}
		})
	}
}

// A flood of failures logs at most a burst of lines, then about 10 a second;
// the next line says how many were left out.
func TestAuthFailureLogIsThrottled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logger, logs := newLogger()
		a := must(middleware.NewAuth(middleware.AuthOptions{APIKeys: []middleware.APIKey{{Name: "a", Key: "k-a-0123456789abcd"}}}, nil, logger))(t)
		h := a.Middleware()(whoami)
		fail := func() {
			r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/", nil)
			r.Header.Set("X-API-Key", "k-guess-0123456789")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401", w.Code)
			}
		}
		for range 50 {
			fail()
		}
		if n := len(logs.records(t)); n != 20 {
			t.Fatalf("%d records after 50 failures at once, want the burst of 20", n)
		}
		time.Sleep(time.Second)
		fail()
		recs := logs.records(t)
		if len(recs) != 21 || recs[20]["suppressed"] != float64(30) {
			t.Errorf("after a second: %d records, the last %v; want 21, the last with suppressed 30", len(recs), recs[len(recs)-1])
		}
	})
}

// The attack: auth forwarded the caller's API key or bearer token to the
// upstream of a proxy, which could log or replay it. The header that
// carried the credential is now removed unless forwardCredentials is set;
// other headers pass.
func TestAuthStripsTheCredentialItConsumed(t *testing.T) {
	upstream := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "x-api-key="+r.Header.Get("X-API-Key")+" authorization="+r.Header.Get("Authorization"))
	}))
	target, err := url.Parse(upstream.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	keys := []middleware.APIKey{{Name: "a", Key: "k-a-0123456789abcd"}}
	for _, tt := range []struct {
		name    string
		forward bool
		headers []string
		want    string
	}{
		{name: "X-API-Key", headers: []string{"X-API-Key", "k-a-0123456789abcd"}, want: "x-api-key= authorization="},
		{name: "bearer", headers: []string{"Authorization", "Bearer k-a-0123456789abcd"}, want: "x-api-key= authorization="},
		{name: "X-API-Key beside upstream credentials", headers: []string{"X-API-Key", "k-a-0123456789abcd", "Authorization", "Basic dXA6c3RyZWFt"},
			want: "x-api-key= authorization=Basic dXA6c3RyZWFt"},
		{name: "forwarded on request", forward: true, headers: []string{"X-API-Key", "k-a-0123456789abcd"}, want: "x-api-key=k-a-0123456789abcd authorization="},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := must(middleware.NewAuth(middleware.AuthOptions{APIKeys: keys, ForwardCredentials: tt.forward}, nil, discardLogger()))(t)
			var outer http.Header
			srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				a.Middleware()(proxy).ServeHTTP(w, r)
				outer = r.Header
			}))
			res := get(t, srv.Client(), srv.URL, tt.headers...)
			if res.status != 200 || res.body != tt.want {
				t.Errorf("upstream got %d %q, want 200 %q", res.status, res.body, tt.want)
			}
			if outer.Get(tt.headers[0]) != tt.headers[1] {
				t.Errorf("the outer layer's request lost %s: the layer must not change its caller's request", tt.headers[0])
			}
		})
	}
}

// jwksServer is a JWKS endpoint on a fixed 127.0.0.1 port that a test stops
// and starts again, run from outside any synctest bubble (its sockets would
// keep a bubble from going idle). hits counts the fetches it answered.
type jwksServer struct {
	addr string
	set  atomic.Pointer[[]byte]
	hits atomic.Int64
	cmds chan bool // true starts it, false stops it
	done chan struct{}
}

func newJWKSServer(t *testing.T) *jwksServer {
	t.Helper()
	ln, err := new(net.ListenConfig).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &jwksServer{addr: ln.Addr().String(), cmds: make(chan bool), done: make(chan struct{})}
	if err := ln.Close(); err != nil { // down until started
		t.Fatal(err)
	}
	go s.run(t)
	t.Cleanup(func() { close(s.cmds); <-s.done })
	return s
}

func (s *jwksServer) run(t *testing.T) {
	t.Helper()
	defer close(s.done)
	var srv *http.Server
	var served chan struct{}
	stop := func() {
		if srv != nil {
			_ = srv.Close()
			<-served
			srv = nil
		}
	}
	defer stop()
	for start := range s.cmds {
		stop()
		if start {
			ln, err := new(net.ListenConfig).Listen(t.Context(), "tcp", s.addr)
			if err != nil {
				t.Errorf("restart the JWKS server on %s: %v", s.addr, err)
				s.cmds <- false // unblocks the test's start call with a failure
				continue
			}
			srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				s.hits.Add(1)
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(*s.set.Load())
			}), ReadHeaderTimeout: time.Second}
			served = make(chan struct{})
			go func() { defer close(served); _ = srv.Serve(ln) }()
		}
		s.cmds <- true // acknowledged
	}
}

// start starts the server (again); it accepts connections when start returns.
func (s *jwksServer) start(t *testing.T) {
	t.Helper()
	s.cmds <- true
	if !<-s.cmds {
		t.FailNow()
	}
}

// The attack: with the JWKS endpoint down when the host started, the host
// reported ready, and every token was rejected for minutes after the
// endpoint recovered (the first fetch failed, the next came an hour later,
// and unknown key IDs refreshed at most every 5 minutes). Now health is
// degraded until the first fetch, a failed fetch is retried after 10
// seconds, an unknown key ID fetches at most once per 10 seconds however
// many tokens name one, and each fetch has a timeout.
func TestAuthJWKSRecoversWithinSeconds(t *testing.T) {
	key1, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key2, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024) //nolint:gosec // a test key, only used to fill the set
	if err != nil {
		t.Fatal(err)
	}
	keys := newJWKSServer(t)
	set1 := jwks(t, key1, rsaKey)
	keys.set.Store(&set1)

	synctest.Test(t, func(t *testing.T) {
		claims := jwt.MapClaims{"sub": "u", "iss": "https://issuer.test", "aud": "shop", "exp": time.Now().Add(time.Hour).Unix()}
		tok1 := signer{kid: "ec-1", method: jwt.SigningMethodES256, key: key1}.sign(t, claims)
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}} // no idle connection keeps the bubble busy
		a := must(middleware.NewAuth(middleware.AuthOptions{JWT: middleware.JWTOptions{
			JWKSURL: "http://" + keys.addr + "/jwks.json", Issuer: "https://issuer.test", Audience: "shop",
		}}, client, discardLogger()))(t)
		defer closeOK(t, a)
		h := a.Middleware()(whoami)
		status := func(tok string) int {
			r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			return w.Code
		}
		synctest.Wait() // the first fetch failed: connection refused

		if err := a.Health(t.Context()); !errors.Is(err, ply.ErrDegraded) {
			t.Fatalf("Health with the JWKS down = %v, want degraded", err)
		}
		if got := status(tok1); got != http.StatusUnauthorized {
			t.Fatalf("token with the JWKS down: %d, want 401", got)
		}
		keys.start(t)
		if got := status(tok1); got != http.StatusUnauthorized {
			t.Fatalf("token right after the JWKS came back, before 10s passed: %d, want 401 (fetches are at most every 10s)", got)
		}
		time.Sleep(10 * time.Second) // the background retry fetches
		if got := status(tok1); got != http.StatusOK {
			t.Fatalf("token 10s after the JWKS came back: %d, want 200", got)
		}
		if err := a.Health(t.Context()); err != nil {
			t.Fatalf("Health after a fetch = %v, want nil", err)
		}

		// The provider rotates to a new key: tokens naming it fetch the set
		// again, once for any number of tokens within 10 seconds.
		set2 := bytes.Replace(jwks(t, key2, rsaKey), []byte(`"ec-1"`), []byte(`"ec-2"`), 1)
		keys.set.Store(&set2)
		tok2 := signer{kid: "ec-2", method: jwt.SigningMethodES256, key: key2}.sign(t, claims)
		before := keys.hits.Load()
		time.Sleep(10 * time.Second)
		for i := range 20 {
			forged := signer{kid: fmt.Sprintf("unknown-%d", i), method: jwt.SigningMethodES256, key: key2}.sign(t, claims)
			if got := status(forged); got != http.StatusUnauthorized {
				t.Fatalf("token with an unknown key ID: %d, want 401", got)
			}
		}
		if got := keys.hits.Load() - before; got != 1 {
			t.Errorf("20 tokens with unknown key IDs fetched the JWKS %d times, want 1", got)
		}
		time.Sleep(10 * time.Second)
		if got := status(tok2); got != http.StatusOK {
			t.Errorf("token signed with the rotated key: %d, want 200", got)
		}
	})
}

// Without an issuer and an audience, any token the provider signs is
// accepted, also one issued for another service: both are required with a
// JWT key source, unless explicitly waived.
func TestAuthJWTIssuerAndAudienceRequired(t *testing.T) {
	for _, tt := range []struct {
		name  string
		jwt   middleware.JWTOptions
		field string // "" when valid
	}{
		{name: "no issuer", jwt: middleware.JWTOptions{JWKSURL: "https://id.example.com/jwks.json", Audience: "shop"}, field: "jwt.issuer"},
		{name: "no audience", jwt: middleware.JWTOptions{PEM: "x", Issuer: "https://id.example.com/"}, field: "jwt.audience"},
		{name: "issuer and anyIssuer", jwt: middleware.JWTOptions{JWKS: []byte(`{"keys":[]}`), Issuer: "https://id.example.com/", AnyIssuer: true, AnyAudience: true}, field: "jwt.anyIssuer"},
		{name: "audience and anyAudience", jwt: middleware.JWTOptions{JWKS: []byte(`{"keys":[]}`), AnyIssuer: true, Audience: "shop", AnyAudience: true}, field: "jwt.anyAudience"},
		{name: "both waived", jwt: middleware.JWTOptions{JWKSURL: "https://id.example.com/jwks.json", AnyIssuer: true, AnyAudience: true}},
		{name: "both set", jwt: middleware.JWTOptions{JWKSURL: "https://id.example.com/jwks.json", Issuer: "https://id.example.com/", Audience: "shop"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := middleware.AuthOptions{JWT: tt.jwt}.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			fe, ok := errors.AsType[*option.Error](err)
			if !ok || fe.Field != tt.field || !strings.Contains(fe.Problem, "jwt.any") && !strings.Contains(fe.Problem, "remove one") {
				t.Errorf("Validate() = %v, want a problem at %s that names the fix", err, tt.field)
			}
		})
	}
}

// A JWKS response is read up to 1 MiB: a larger one fails the fetch instead of
// being read without end.
func TestAuthJWKSResponseIsBounded(t *testing.T) {
	keys := serve(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"keys":[`+strings.Repeat(" ", 2<<20)+`]}`)
	}))
	a := must(middleware.NewAuth(middleware.AuthOptions{JWT: middleware.JWTOptions{
		JWKSURL: keys.URL, AnyIssuer: true, AnyAudience: true,
	}}, keys.Client(), discardLogger()))(t)
	defer closeOK(t, a)
	srv := serve(t, a.Middleware()(whoami))
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tok := signer{kid: "ec-1", method: jwt.SigningMethodES256, key: key}.sign(t, jwt.MapClaims{"sub": "u", "exp": time.Now().Add(time.Minute).Unix()})
	// The token waits for a fetch to end.
	if res := get(t, srv.Client(), srv.URL, "Authorization", "Bearer "+tok); res.status != http.StatusUnauthorized {
		t.Fatalf("status = %d, want 401", res.status)
	}
	if err := a.Health(t.Context()); !errors.Is(err, ply.ErrDegraded) || !strings.Contains(err.Error(), "decode") {
		t.Errorf("Health after a 2 MiB JWKS = %v, want degraded by a decoding error", err)
	}
}
