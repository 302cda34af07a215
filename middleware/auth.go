package middleware

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/plykit/ply"
)

// AuthOptions configures [NewAuth]. At least one API key or one JWT key source must
// be set: the zero value is rejected, as it would let no request through.
type AuthOptions struct {
	// Realm is sent in WWW-Authenticate challenges. Default "ply".
	Realm string `json:"realm,omitempty" jsonschema:"maxLength=128"`
	// APIKeys are accepted in an "Authorization: Bearer <key>" or "X-API-Key: <key>" header.
	APIKeys []APIKey `json:"apiKeys,omitempty"`
	// JWT enables bearer JSON Web Tokens.
	JWT JWTOptions `json:"jwt,omitzero"`
	// RequiredScopes must all be granted to the caller, else the response is 403.
	RequiredScopes []string `json:"requiredScopes,omitempty"`
}

// APIKey is one accepted API key.
type APIKey struct {
	// Name identifies the key's owner in [Principal.KeyName] and logs; never the key.
	Name string `json:"name" jsonschema:"required,minLength=1"`
	// Key is the secret the client sends. At least 16 characters.
	Key string `json:"key" jsonschema:"required,minLength=16"`
	// Scopes are granted to requests made with this key.
	Scopes []string `json:"scopes,omitempty"`
}

// JWTOptions configures the validation of bearer JSON Web Tokens. Exactly one key
// source is used: JWKSURL, JWKS or PEM.
type JWTOptions struct {
	// JWKSURL is fetched for the signing keys (a JWK Set), and refreshed every
	// RefreshInterval and when a token names an unknown key ID.
	JWKSURL string `json:"jwksURL,omitempty" jsonschema:"pattern=^https?://"`
	// JWKS is a static JWK Set, as JSON.
	JWKS json.RawMessage `json:"jwks,omitempty"`
	// PEM is a static PKIX public key (RSA, ECDSA or Ed25519), PEM-encoded.
	PEM string `json:"pem,omitempty"`
	// Issuer, when set, must equal the "iss" claim.
	Issuer string `json:"issuer,omitempty"`
	// Audience, when set, must be one of the "aud" claim's values.
	Audience string `json:"audience,omitempty"`
	// Leeway allows for clock skew when checking exp, nbf and iat. Default 0.
	Leeway time.Duration `json:"leeway,omitempty" jsonschema:"minimum=0,maximum=300000000000"`
	// Algorithms lists the accepted "alg" values.
	// Default RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA.
	Algorithms []string `json:"algorithms,omitempty"`
	// ScopeClaim names the claim that holds the granted scopes, as a space-separated
	// string or an array of strings. Default: "scope", then "scp".
	ScopeClaim string `json:"scopeClaim,omitempty"`
	// RefreshInterval is how often JWKSURL is fetched again. Default 1h.
	RefreshInterval time.Duration `json:"refreshInterval,omitempty" jsonschema:"minimum=1000000000"`
}

func (o JWTOptions) enabled() bool { return o.JWKSURL != "" || len(o.JWKS) > 0 || o.PEM != "" }

// Validate reports, as [ply.FieldError] values, options that the schema cannot
// check: no credentials at all, several JWT key sources, short or duplicate keys, a
// symmetric or unknown algorithm.
func (o AuthOptions) Validate() error {
	var p problems
	if len(o.APIKeys) == 0 && !o.JWT.enabled() {
		p.add("", "set apiKeys or one of jwt.jwksURL, jwt.jwks and jwt.pem; with none, every request would be rejected")
	}
	if strings.ContainsAny(o.Realm, "\"\\") {
		p.add("realm", "must not contain quotes or backslashes, got %q", o.Realm)
	}
	names := make(map[string]bool, len(o.APIKeys))
	for i, k := range o.APIKeys {
		switch {
		case k.Name == "":
			p.add(fmt.Sprintf("apiKeys[%d].name", i), "must be set")
		case names[k.Name]:
			p.add(fmt.Sprintf("apiKeys[%d].name", i), "%q is used twice; names must be unique", k.Name)
		}
		if len(k.Key) < 16 {
			p.add(fmt.Sprintf("apiKeys[%d].key", i), "must be at least 16 characters, got %d", len(k.Key))
		}
		names[k.Name] = true
	}
	sources := 0
	for _, set := range []bool{o.JWT.JWKSURL != "", len(o.JWT.JWKS) > 0, o.JWT.PEM != ""} {
		if set {
			sources++
		}
	}
	if sources > 1 {
		p.add("jwt", "set only one of jwksURL, jwks and pem")
	}
	for i, alg := range o.JWT.Algorithms {
		if jwt.GetSigningMethod(alg) == nil || alg == "none" || strings.HasPrefix(alg, "HS") {
			p.add(fmt.Sprintf("jwt.algorithms[%d]", i), "must be an asymmetric algorithm such as RS256, ES256 or EdDSA, got %q", alg)
		}
	}
	return p.err()
}

// Principal is the authenticated caller of a request.
type Principal struct {
	Subject string         // the JWT "sub" claim, or the API key's name
	KeyName string         // the API key's name; "" for a JWT
	Scopes  []string       // the granted scopes
	Claims  map[string]any // the JWT's claims; nil for an API key
}

// HasScope reports whether p was granted scope.
func (p *Principal) HasScope(scope string) bool { return slices.Contains(p.Scopes, scope) }

type principalKey struct{}

// PrincipalFrom returns the caller that an [Auth] layer authenticated, or nil.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Auth authenticates requests with API keys or JWTs. It is safe for concurrent use.
// Close it to stop refreshing a JWKS URL.
type Auth struct {
	realm    string
	keys     []apiKey
	parser   *jwt.Parser
	keyFunc  func(ctx context.Context) jwt.Keyfunc // nil without JWT
	scopeCl  string
	required []string
	cancel   context.CancelFunc
}

type apiKey struct {
	hash   [sha256.Size]byte
	name   string
	scopes []string
}

var defaultAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// NewAuth validates opts and returns an [Auth]. When JWT.JWKSURL is set, NewAuth
// starts fetching it with client (nil means [http.DefaultClient]) in a goroutine that
// runs until [Auth.Close]; a failed first fetch is retried when a token arrives, not
// reported here.
func NewAuth(opts AuthOptions, client *http.Client) (*Auth, error) {
	if err := checked("auth", opts); err != nil {
		return nil, err
	}
	a := &Auth{realm: opts.Realm, scopeCl: opts.JWT.ScopeClaim, required: opts.RequiredScopes, cancel: func() {}}
	if a.realm == "" {
		a.realm = "ply"
	}
	for _, k := range opts.APIKeys {
		a.keys = append(a.keys, apiKey{hash: sha256.Sum256([]byte(k.Key)), name: k.Name, scopes: k.Scopes})
	}
	j := opts.JWT
	switch {
	case j.JWKSURL != "":
		ctx, cancel := context.WithCancel(context.Background())
		refresh := j.RefreshInterval
		if refresh == 0 {
			refresh = time.Hour
		}
		kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{j.JWKSURL}, keyfunc.Override{Client: client, RefreshInterval: refresh})
		if err != nil {
			cancel()
			return nil, &OptionsError{Layer: "auth", Err: &ply.FieldError{Path: "jwt.jwksURL", Problem: err.Error()}}
		}
		a.keyFunc, a.cancel = kf.KeyfuncCtx, cancel
	case len(j.JWKS) > 0:
		kf, err := keyfunc.NewJWKSetJSON(j.JWKS)
		if err != nil {
			return nil, &OptionsError{Layer: "auth", Err: &ply.FieldError{Path: "jwt.jwks", Problem: "must be a JWK Set: " + err.Error()}}
		}
		a.keyFunc = kf.KeyfuncCtx
	case j.PEM != "":
		block, _ := pem.Decode([]byte(j.PEM))
		if block == nil {
			return nil, &OptionsError{Layer: "auth", Err: &ply.FieldError{Path: "jwt.pem", Problem: "must be a PEM block such as -----BEGIN PUBLIC KEY-----"}}
		}
		key, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, &OptionsError{Layer: "auth", Err: &ply.FieldError{Path: "jwt.pem", Problem: "must be a PKIX public key: " + err.Error()}}
		}
		static := func(*jwt.Token) (any, error) { return key, nil }
		a.keyFunc = func(context.Context) jwt.Keyfunc { return static }
	}
	if a.keyFunc != nil {
		algs := j.Algorithms
		if len(algs) == 0 {
			algs = defaultAlgorithms
		}
		po := []jwt.ParserOption{jwt.WithValidMethods(algs), jwt.WithLeeway(j.Leeway), jwt.WithExpirationRequired()}
		if j.Issuer != "" {
			po = append(po, jwt.WithIssuer(j.Issuer))
		}
		if j.Audience != "" {
			po = append(po, jwt.WithAudience(j.Audience))
		}
		a.parser = jwt.NewParser(po...)
	}
	return a, nil
}

// Close stops refreshing the JWKS URL. The middleware keeps working with the keys
// it has. Close is idempotent.
func (a *Auth) Close() error {
	a.cancel()
	return nil
}

// Middleware returns the layer. A request without credentials gets 401 with
// "WWW-Authenticate: Bearer realm=…"; one with a bad key or token gets 401 with
// error="invalid_token"; one whose caller lacks a required scope gets 403 with
// error="insufficient_scope". Otherwise the inner chain runs with the caller in the
// context, for [PrincipalFrom].
func (a *Auth) Middleware() func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, credentials := a.authenticate(r)
			switch {
			case p == nil && !credentials:
				a.challenge(w, http.StatusUnauthorized, "", "authentication required")
				return
			case p == nil:
				a.challenge(w, http.StatusUnauthorized, "invalid_token", "invalid API key or token")
				return
			}
			for _, s := range a.required {
				if !p.HasScope(s) {
					a.challenge(w, http.StatusForbidden, "insufficient_scope", "missing scope "+s)
					return
				}
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
		})
	}
}

// authenticate returns the caller, or nil and whether credentials were presented.
func (a *Auth) authenticate(r *http.Request) (p *Principal, credentials bool) {
	if key := r.Header.Get("X-API-Key"); key != "" {
		return a.apiKey(key), true
	}
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return nil, false
	}
	scheme, token, ok := strings.Cut(authz, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, true
	}
	if a.keyFunc != nil && strings.Count(token, ".") == 2 {
		if p := a.jwt(r.Context(), token); p != nil || len(a.keys) == 0 {
			return p, true
		}
	}
	return a.apiKey(token), true // also for a key that merely looks like a JWT
}

// apiKey compares the hash of key with every configured key in constant time, so
// neither the position of a match nor the length of a key leaks.
func (a *Auth) apiKey(key string) *Principal {
	h := sha256.Sum256([]byte(key))
	match := -1
	for i := range a.keys {
		if subtle.ConstantTimeCompare(h[:], a.keys[i].hash[:]) == 1 {
			match = i
		}
	}
	if match < 0 {
		return nil
	}
	k := &a.keys[match]
	return &Principal{Subject: k.name, KeyName: k.name, Scopes: k.scopes}
}

// jwt validates raw; fetching an unknown key from the JWKS URL is bounded by ctx.
func (a *Auth) jwt(ctx context.Context, raw string) *Principal {
	claims := jwt.MapClaims{}
	if _, err := a.parser.ParseWithClaims(raw, claims, a.keyFunc(ctx)); err != nil {
		return nil
	}
	sub, _ := claims.GetSubject()
	return &Principal{Subject: sub, Scopes: a.scopes(claims), Claims: claims}
}

func (a *Auth) scopes(claims jwt.MapClaims) []string {
	names := []string{"scope", "scp"}
	if a.scopeCl != "" {
		names = []string{a.scopeCl}
	}
	for _, n := range names {
		switch v := claims[n].(type) {
		case string:
			return strings.Fields(v)
		case []any:
			s := make([]string, 0, len(v))
			for _, e := range v {
				if str, ok := e.(string); ok {
					s = append(s, str)
				}
			}
			return s
		}
	}
	return nil
}

func (a *Auth) challenge(w http.ResponseWriter, status int, code, detail string) {
	c := `Bearer realm="` + a.realm + `"`
	if code != "" {
		c += `, error="` + code + `"`
	}
	w.Header().Set("WWW-Authenticate", c)
	WriteProblem(w, status, detail)
}
