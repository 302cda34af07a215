package middleware

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/plykit/ply/internal/fault"
	"github.com/plykit/ply/option"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"
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
	// ForwardCredentials passes the header that carried the caller's credential
	// (X-API-Key, or Authorization for a bearer token) on to the inner chain, and
	// so to the upstream of a proxy route. By default auth removes it: an upstream
	// should not receive, log or replay the caller's secret. Default false.
	ForwardCredentials bool `json:"forwardCredentials,omitempty"`
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
// source is used: JWKSURL, JWKS or PEM. With a key source set, Issuer and Audience
// are required unless AnyIssuer or AnyAudience waives them.
type JWTOptions struct {
	// JWKSURL is fetched for the signing keys (a JWK Set): in the background from
	// the start (no token is accepted before the first fetch succeeds), every
	// RefreshInterval, every 10 seconds or more while fetches fail, and when a
	// token names a key ID the set lacks, at most once per 10 seconds.
	JWKSURL string `json:"jwksURL,omitempty" jsonschema:"pattern=^https?://"`
	// JWKS is a static JWK Set, as JSON.
	JWKS json.RawMessage `json:"jwks,omitempty"`
	// PEM is a static PKIX public key (RSA, ECDSA or Ed25519), PEM-encoded.
	PEM string `json:"pem,omitempty"`
	// Issuer must equal the "iss" claim. Required with a key source, unless
	// AnyIssuer is set.
	Issuer string `json:"issuer,omitempty"`
	// AnyIssuer accepts tokens whatever their "iss" claim, from every issuer the
	// keys sign for. Default false.
	AnyIssuer bool `json:"anyIssuer,omitempty"`
	// Audience must be one of the "aud" claim's values: the name of this service
	// at the identity provider. Required with a key source, unless AnyAudience is
	// set: without it, a token issued for any other service of the same provider
	// is accepted here.
	Audience string `json:"audience,omitempty"`
	// AnyAudience accepts tokens whatever their "aud" claim. Default false.
	AnyAudience bool `json:"anyAudience,omitempty"`
	// Leeway allows for clock skew when checking exp, nbf and iat. Default 0.
	Leeway time.Duration `json:"leeway,omitempty" jsonschema:"minimum=0,maximum=5m"`
	// Algorithms lists the accepted "alg" values.
	// Default RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA.
	Algorithms []string `json:"algorithms,omitempty"`
	// ScopeClaim names the claim that holds the granted scopes, as a space-separated
	// string or an array of strings. Default: "scope", then "scp".
	ScopeClaim string `json:"scopeClaim,omitempty"`
	// RefreshInterval is how often JWKSURL is fetched again. Default 1h.
	RefreshInterval time.Duration `json:"refreshInterval,omitempty" jsonschema:"minimum=1s"`
	// FetchTimeout bounds one fetch of JWKSURL. Default 10s.
	FetchTimeout time.Duration `json:"fetchTimeout,omitempty" jsonschema:"minimum=0,maximum=1m"`
}

func (o JWTOptions) enabled() bool { return o.JWKSURL != "" || len(o.JWKS) > 0 || o.PEM != "" }

// Validate reports, as [*option.Error] values, options that the schema cannot
// check: no credentials at all, several JWT key sources, a JWT key source without
// an issuer or an audience (unless waived), short or duplicate keys, a symmetric or
// unknown algorithm.
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
		if k.Name != "" && names[k.Name] {
			p.add(fmt.Sprintf("apiKeys[%d].name", i), "%q is used twice; names must be unique", k.Name)
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
	if o.JWT.enabled() {
		switch {
		case o.JWT.Issuer == "" && !o.JWT.AnyIssuer:
			p.add("jwt.issuer", `must be set with a JWT key source: the "iss" claim of your identity provider's tokens, such as "https://id.example.com/"; `+
				"or set jwt.anyIssuer: true to accept every issuer these keys sign for")
		case o.JWT.Issuer != "" && o.JWT.AnyIssuer:
			p.add("jwt.anyIssuer", "must not be set with jwt.issuer; remove one of them")
		}
		switch {
		case o.JWT.Audience == "" && !o.JWT.AnyAudience:
			p.add("jwt.audience", `must be set with a JWT key source: the "aud" value that names this service at your identity provider, `+
				"else a token issued for any other service is accepted here; or set jwt.anyAudience: true to accept every audience")
		case o.JWT.Audience != "" && o.JWT.AnyAudience:
			p.add("jwt.anyAudience", "must not be set with jwt.audience; remove one of them")
		}
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
// Close it to stop fetching a JWKS URL.
type Auth struct {
	realm    string
	keys     []apiKey
	parser   *jwt.Parser
	keyFunc  func(ctx context.Context) jwt.Keyfunc // nil without JWT
	jwks     *jwks                                 // nil without a JWKS URL
	scopeCl  string
	required []string
	forward  bool
	logger   *slog.Logger
	logLimit *rate.Limiter // failed attempts logged per second
	dropped  atomic.Int64  // failed attempts not logged since the last line
}

type apiKey struct {
	hash   [sha256.Size]byte
	name   string
	scopes []string
}

var defaultAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Failed attempts are logged at this rate per second, in bursts of failLogBurst;
// the lines past it are counted and reported in the next line, as "suppressed".
const (
	failLogRate  = 10
	failLogBurst = 20
)

// NewAuth validates opts and returns an [Auth] that logs failed attempts and JWKS
// fetches to logger (nil means [slog.Default]). When JWT.JWKSURL is set, NewAuth
// starts fetching it with client (nil means [http.DefaultClient]) in a goroutine
// that runs until [Auth.Close], and returns without waiting for the first fetch:
// until one succeeds, every JWT is rejected and [Auth.Health] reports degraded.
func NewAuth(opts AuthOptions, client *http.Client, logger *slog.Logger) (*Auth, error) {
	if err := checked("auth", opts); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	a := &Auth{
		realm: opts.Realm, scopeCl: opts.JWT.ScopeClaim, required: opts.RequiredScopes, forward: opts.ForwardCredentials,
		logger: logger, logLimit: rate.NewLimiter(failLogRate, failLogBurst),
	}
	if a.realm == "" {
		a.realm = "ply"
	}
	for _, k := range opts.APIKeys {
		a.keys = append(a.keys, apiKey{hash: sha256.Sum256([]byte(k.Key)), name: k.Name, scopes: k.Scopes})
	}
	j := opts.JWT
	switch {
	case j.JWKSURL != "":
		if _, err := url.ParseRequestURI(j.JWKSURL); err != nil {
			return nil, &option.Error{Plugin: "auth", Field: "jwt.jwksURL", Problem: "must be an http or https URL: " + err.Error()}
		}
		a.jwks = newJWKS(j, client, logger)
		a.keyFunc = a.jwks.keyfunc
	case len(j.JWKS) > 0:
		kf, err := keyfunc.NewJWKSetJSON(j.JWKS)
		if err != nil {
			return nil, &option.Error{Plugin: "auth", Field: "jwt.jwks", Problem: "must be a JWK Set: " + err.Error()}
		}
		a.keyFunc = kf.KeyfuncCtx
	case j.PEM != "":
		block, _ := pem.Decode([]byte(j.PEM))
		if block == nil {
			return nil, &option.Error{Plugin: "auth", Field: "jwt.pem", Problem: "must be a PEM block such as -----BEGIN PUBLIC KEY-----"}
		}
		key, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, &option.Error{Plugin: "auth", Field: "jwt.pem", Problem: "must be a PKIX public key: " + err.Error()}
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
	if a.jwks != nil {
		a.jwks.start()
	}
	return a, nil
}

// Close stops fetching the JWKS URL and waits for a fetch in flight to end. The
// middleware keeps working with the keys it has. Close is idempotent.
func (a *Auth) Close() error {
	if a.jwks != nil {
		a.jwks.stop()
	}
	return nil
}

// Health reports whether JWTs can be checked: an error matching ply.ErrDegraded
// until the JWKS URL was fetched once, and while its latest fetch fails; nil
// without a JWKS URL.
func (a *Auth) Health(context.Context) error {
	if a.jwks == nil {
		return nil
	}
	return a.jwks.health()
}

// Middleware returns the layer. A request without credentials gets 401 with
// "WWW-Authenticate: Bearer realm=…"; one with a bad key or token gets 401 with
// error="invalid_token"; one whose caller lacks a required scope gets 403 with
// error="insufficient_scope". Each rejected credential is logged at warn level with
// the reason and the client address, never the credential, at most 10 lines per
// second (the next line counts those left out, as "suppressed"). Otherwise the
// inner chain runs with the caller in the context, for [PrincipalFrom], and without
// the header that carried the credential unless ForwardCredentials is set.
func (a *Auth) Middleware() func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, header, reason := a.authenticate(r)
			switch {
			case p == nil && header == "":
				a.challenge(w, http.StatusUnauthorized, "", "authentication required")
				return
			case p == nil:
				a.failed(r, header, reason, nil)
				a.challenge(w, http.StatusUnauthorized, "invalid_token", "invalid API key or token")
				return
			}
			for _, s := range a.required {
				if !p.HasScope(s) {
					a.failed(r, header, "missing scope "+s, p)
					a.challenge(w, http.StatusForbidden, "insufficient_scope", "missing scope "+s)
					return
				}
			}
			r = r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
			if !a.forward {
				r.Header = r.Header.Clone() // r is already a copy; the caller's headers stay as they were
				r.Header.Del(header)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// maxReason bounds the length of a logged reason: a token's header, which an
// error may quote, is the client's to choose.
const maxReason = 200

// failed logs a rejected credential, unless the log rate is exceeded.
func (a *Auth) failed(r *http.Request, header, reason string, p *Principal) {
	if !a.logLimit.Allow() {
		a.dropped.Add(1)
		return
	}
	if len(reason) > maxReason {
		reason = reason[:maxReason] + "…"
	}
	attrs := []slog.Attr{
		slog.String("reason", reason),
		slog.String("client", clientAddr(r)),
		slog.String("header", header),
		slog.String("method", r.Method),
		slog.String("path", truncate(r.URL.Path, maxReason)),
	}
	if id := RequestIDFrom(r.Context()); id != "" {
		attrs = append(attrs, slog.String("request_id", id))
	}
	if p != nil {
		attrs = append(attrs, slog.String("subject", p.Subject))
	}
	if n := a.dropped.Swap(0); n > 0 {
		attrs = append(attrs, slog.Int64("suppressed", n))
	}
	a.logger.LogAttrs(r.Context(), slog.LevelWarn, "auth: credential rejected", attrs...)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// clientAddr returns the host part of r.RemoteAddr.
func clientAddr(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// authenticate returns the caller and the header that carried the credential; or
// nil, that header ("" when there was none) and why it was rejected.
func (a *Auth) authenticate(r *http.Request) (p *Principal, header, reason string) {
	if key := r.Header.Get("X-API-Key"); key != "" {
		if p := a.apiKey(key); p != nil {
			return p, "X-API-Key", ""
		}
		return nil, "X-API-Key", "unknown API key"
	}
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return nil, "", ""
	}
	scheme, token, ok := strings.Cut(authz, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, "Authorization", "not a bearer credential"
	}
	var jwtErr error
	if a.keyFunc != nil && strings.Count(token, ".") == 2 {
		if p, jwtErr = a.jwt(r.Context(), token); p != nil {
			return p, "Authorization", ""
		}
	}
	if len(a.keys) > 0 {
		if p := a.apiKey(token); p != nil { // also for a key that merely looks like a JWT
			return p, "Authorization", ""
		}
	}
	switch {
	case jwtErr != nil:
		return nil, "Authorization", "invalid token: " + jwtErr.Error()
	case len(a.keys) == 0:
		return nil, "Authorization", "not a JWT"
	}
	return nil, "Authorization", "unknown API key"
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
func (a *Auth) jwt(ctx context.Context, raw string) (*Principal, error) {
	claims := jwt.MapClaims{}
	if _, err := a.parser.ParseWithClaims(raw, claims, a.keyFunc(ctx)); err != nil {
		return nil, err
	}
	sub, _ := claims.GetSubject()
	return &Principal{Subject: sub, Scopes: a.scopes(claims), Claims: claims}, nil
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

// jwksMinRefresh is the shortest time between two fetches of a JWKS URL: a token
// naming an unknown key triggers a fetch at most this often, and a failed fetch is
// retried in the background after it, then after twice as long, up to the refresh
// interval.
const jwksMinRefresh = 10 * time.Second

// jwks holds the keys of a JWK Set URL, fetched by one goroutine (the loop) and on
// demand when a token names an unknown key; concurrent demands share one fetch.
type jwks struct {
	url     string
	client  *http.Client
	timeout time.Duration
	every   time.Duration
	logger  *slog.Logger
	store   jwkset.Storage // the keys of the latest successful fetch
	kf      keyfunc.Keyfunc
	fetches singleflight.Group

	ctx    context.Context // cancelled by stop
	cancel context.CancelFunc
	done   chan struct{} // closed when the loop returned

	mu       sync.Mutex
	closed   bool
	inflight sync.WaitGroup // fetches started before closed was set
	tried    time.Time      // when the latest fetch started
	fetched  time.Time      // when the latest successful fetch ended; zero before
	err      error          // of the latest fetch
}

// maxJWKS bounds the size of a JWK Set response: a provider's set holds a few keys.
const maxJWKS = 1 << 20

// limitBody is a transport that cuts response bodies at max bytes, so that a
// JWKS URL cannot make the host read without end.
type limitBody struct {
	rt  http.RoundTripper
	max int64
}

func (l limitBody) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := l.rt.RoundTrip(r)
	if err == nil {
		res.Body = struct {
			io.Reader
			io.Closer
		}{io.LimitReader(res.Body, l.max), res.Body}
	}
	return res, err
}

func newJWKS(o JWTOptions, client *http.Client, logger *slog.Logger) *jwks {
	c := http.Client{}
	if client != nil {
		c = *client // its settings; the transport is shared
	}
	rt := c.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	c.Transport = limitBody{rt: rt, max: maxJWKS}
	j := &jwks{url: o.JWKSURL, client: &c, timeout: o.FetchTimeout, every: o.RefreshInterval, logger: logger, store: jwkset.NewMemoryStorage()}
	if j.timeout == 0 {
		j.timeout = 10 * time.Second
	}
	if j.every == 0 {
		j.every = time.Hour
	}
	j.kf, _ = keyfunc.New(keyfunc.Options{Storage: j.store}) // fails only without a storage
	j.ctx, j.cancel = context.WithCancel(context.Background())
	j.done = make(chan struct{})
	return j
}

// start launches the loop, which fetches at once.
func (j *jwks) start() { go j.loop() }

// stop ends the loop and waits for it, and for a fetch in flight, to return.
func (j *jwks) stop() {
	j.mu.Lock()
	j.closed = true // no fetch starts from now on
	j.mu.Unlock()
	j.cancel()
	<-j.done
	j.inflight.Wait()
}

func (j *jwks) loop() {
	defer close(j.done)
	wait, retry := time.Duration(0), jwksMinRefresh
	for {
		t := time.NewTimer(wait)
		select {
		case <-j.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		<-j.fetch(true) // or a fetch on demand that started just before
		j.mu.Lock()
		failed := j.err != nil
		j.mu.Unlock()
		if failed {
			wait, retry = retry, min(2*retry, j.every)
		} else {
			wait, retry = j.every, jwksMinRefresh
		}
	}
}

// fetch fetches the set, unless force is false and the latest fetch started less
// than jwksMinRefresh ago, and returns the fetch's error, or errNotDue. Callers at
// the same time share one fetch, which runs in its own goroutine (stop waits for
// it): a caller that stops waiting does not cancel it for the others.
func (j *jwks) fetch(force bool) <-chan singleflight.Result {
	return j.fetches.DoChan("", func() (any, error) {
		j.mu.Lock()
		now := time.Now()
		switch {
		case j.closed:
			j.mu.Unlock()
			return nil, errClosed
		case !force && now.Sub(j.tried) < jwksMinRefresh:
			j.mu.Unlock()
			return nil, errNotDue
		}
		j.tried = now
		j.inflight.Add(1)
		j.mu.Unlock()
		defer j.inflight.Done()

		ctx, cancel := context.WithTimeout(j.ctx, j.timeout)
		defer cancel()
		// With Storage set and no refresh interval, NewStorageFromHTTP fetches
		// once, replaces the storage's keys and starts nothing.
		_, err := jwkset.NewStorageFromHTTP(j.url, jwkset.HTTPClientStorageOptions{
			Client: j.client, Ctx: ctx, HTTPTimeout: j.timeout, Storage: j.store,
		})
		j.mu.Lock()
		recovered := err == nil && j.err != nil
		j.err = err
		if err == nil {
			j.fetched = time.Now()
		}
		j.mu.Unlock()
		switch {
		case err != nil && j.ctx.Err() == nil:
			j.logger.LogAttrs(j.ctx, slog.LevelWarn, "auth: JWKS fetch failed; JWTs signed by keys not yet fetched are rejected",
				slog.String("url", j.url), slog.String("err", err.Error()))
		case recovered:
			j.logger.LogAttrs(j.ctx, slog.LevelInfo, "auth: JWKS fetched again", slog.String("url", j.url))
		}
		return nil, err
	})
}

var (
	errNotDue = errors.New("the JWKS was fetched less than 10s ago")
	errClosed = errors.New("auth closed")
	errNoKeys = errors.New("no JWKS keys fetched yet")
)

// keyfunc finds the key of a token, fetching the set again (at most every
// jwksMinRefresh) when the token names a key it lacks or the set is empty. The
// wait for a fetch ends with ctx.
func (j *jwks) keyfunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		key, err := j.kf.KeyfuncCtx(ctx)(t)
		if err == nil && !emptySet(key) || err != nil && !errors.Is(err, jwkset.ErrKeyNotFound) {
			return key, err
		}
		if err == nil {
			err = errNoKeys
		}
		var ferr error
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (waiting for the JWKS: %w)", err, ctx.Err())
		case res := <-j.fetch(false):
			ferr = res.Err
		}
		// Look again even when no fetch was due: one may have ended meanwhile.
		key, err = j.kf.KeyfuncCtx(ctx)(t)
		switch {
		case err == nil && emptySet(key):
			err = errNoKeys
		case err == nil:
			return key, nil
		}
		if ferr != nil {
			err = fmt.Errorf("%w (JWKS not fetched again: %w)", err, ferr)
		}
		return nil, err
	}
}

// emptySet reports whether key, for a token without a key ID, is a set of no keys.
func emptySet(key any) bool {
	set, ok := key.(jwt.VerificationKeySet)
	return ok && len(set.Keys) == 0
}

func (j *jwks) health() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	switch {
	case j.fetched.IsZero() && j.err == nil:
		return fmt.Errorf("JWKS %s not fetched yet; every JWT is rejected: %w", j.url, fault.ErrDegraded)
	case j.fetched.IsZero():
		return fmt.Errorf("JWKS %s not fetched yet; every JWT is rejected: %w: %w", j.url, j.err, fault.ErrDegraded)
	case j.err != nil:
		return fmt.Errorf("JWKS %s: latest fetch failed, serving the keys of %s: %w: %w",
			j.url, j.fetched.UTC().Format(time.RFC3339), j.err, fault.ErrDegraded)
	}
	return nil
}
