package tenant

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/plykit/ply"
)

// ErrNoTenant is matched by a selector's error when the request does not
// say what the selector reads: no such header, host, path or claim. A
// host refuses such a call as an unknown tenant ([ply.TenantError]).
var ErrNoTenant = errors.New("tenant: the request does not name one")

// ErrNotHTTP is returned when a selector is given a request that is not an
// *http.Request: a chain of another kind.
var ErrNotHTTP = errors.New("tenant: not an HTTP request")

func request(req any) (*http.Request, error) {
	r, ok := req.(*http.Request)
	if !ok || r == nil {
		return nil, fmt.Errorf("%w (got %T)", ErrNotHTTP, req)
	}
	return r, nil
}

// Header reads the request header name ("X-Tenant"): its first value,
// trimmed of spaces.
func Header(name string) ply.Selector {
	key := textproto.CanonicalMIMEHeaderKey(name)
	return func(_ context.Context, req any) (string, error) {
		r, err := request(req)
		if err != nil {
			return "", err
		}
		if vs := r.Header[key]; len(vs) > 0 {
			v := vs[0]
			if v != "" && v[0] != ' ' && v[0] != '\t' && v[len(v)-1] != ' ' && v[len(v)-1] != '\t' {
				return v, nil // as net/http stores it: already trimmed
			}
			if v = strings.TrimSpace(v); v != "" {
				return v, nil
			}
		}
		return "", fmt.Errorf("header %s: %w", key, ErrNoTenant)
	}
}

// Host reads the tenant from the host name: the label before suffix
// ("acme.api.example.com" with suffix "api.example.com" is "acme"). The
// port is ignored, and case does not matter. A host that is not exactly
// one label under suffix names no tenant.
func Host(suffix string) ply.Selector {
	return func(_ context.Context, req any) (string, error) {
		r, err := request(req)
		if err != nil {
			return "", err
		}
		return Subdomain(r.Host, suffix)
	}
}

// Subdomain returns the one label of host (with or without a port) under
// the domain suffix ("example.com"), lower-cased; it returns an error
// matching [ErrNoTenant] when host is not exactly one DNS label (letters,
// digits, '-') under suffix.
func Subdomain(host, suffix string) (string, error) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	suffix = "." + strings.TrimPrefix(strings.ToLower(suffix), ".")
	label, ok := strings.CutSuffix(host, suffix)
	if !ok || label == "" || len(label) > 63 || strings.Trim(label, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return "", fmt.Errorf("host %q is not one label under %q: %w", host, suffix[1:], ErrNoTenant)
	}
	return label, nil
}

// PathPrefix reads the tenant from the path segment after prefix: with
// prefix "/t/", "/t/acme/orders" is "acme". The routes must match the
// whole path (a module prefix "/t/{tenant}", say).
func PathPrefix(prefix string) ply.Selector {
	return func(_ context.Context, req any) (string, error) {
		r, err := request(req)
		if err != nil {
			return "", err
		}
		rest, ok := strings.CutPrefix(r.URL.Path, prefix)
		seg, _, _ := strings.Cut(rest, "/")
		if !ok || seg == "" {
			return "", fmt.Errorf("path %q has no segment after %q: %w", r.URL.Path, prefix, ErrNoTenant)
		}
		return seg, nil
	}
}

// PathValue reads the tenant from the route's wildcard name, as
// [http.Request.PathValue] does: a route "GET /t/{tenant}/orders" with
// PathValue("tenant").
func PathValue(name string) ply.Selector {
	return func(_ context.Context, req any) (string, error) {
		r, err := request(req)
		if err != nil {
			return "", err
		}
		if v := r.PathValue(name); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("path wildcard {%s}: %w", name, ErrNoTenant)
	}
}

// Claim reads the tenant from the claim name of the request's bearer
// token (Authorization: Bearer <JWT>), for routing only: the signature is
// NOT verified here (see the package documentation). The claim must be a
// string or an integer.
func Claim(name string) ply.Selector {
	return func(_ context.Context, req any) (string, error) {
		r, err := request(req)
		if err != nil {
			return "", err
		}
		auth := r.Header.Get("Authorization")
		token, ok := cutBearer(auth)
		if !ok {
			return "", fmt.Errorf("no bearer token: %w", ErrNoTenant)
		}
		return ClaimOf(token, name)
	}
}

func cutBearer(auth string) (string, bool) {
	if len(auth) < 7 || !strings.EqualFold(auth[:7], "bearer ") {
		return "", false
	}
	t := strings.TrimSpace(auth[7:])
	return t, t != ""
}

// MaxToken bounds the length of a token [ClaimOf] decodes.
const MaxToken = 16 << 10

// ClaimOf returns the claim name of a compact JWT (header.payload.signature)
// without verifying it: a string claim as it is, an integer one in
// decimal. Errors match [ErrNoTenant] when the claim is absent, empty or of
// another type, or the token is malformed.
func ClaimOf(token, name string) (string, error) {
	if len(token) > MaxToken {
		return "", fmt.Errorf("token of %d bytes, over %d: %w", len(token), MaxToken, ErrNoTenant)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("token has %d parts, want 3 (header.payload.signature): %w", len(parts), ErrNoTenant)
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return "", fmt.Errorf("token payload is not base64url: %w", ErrNoTenant)
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", fmt.Errorf("token payload is not a JSON object: %w", ErrNoTenant)
	}
	rawv, ok := claims[name]
	if !ok {
		return "", fmt.Errorf("token has no claim %q: %w", name, ErrNoTenant)
	}
	var s string
	if err := json.Unmarshal(rawv, &s); err == nil {
		if s == "" {
			return "", fmt.Errorf("claim %q is empty: %w", name, ErrNoTenant)
		}
		return s, nil
	}
	var n json.Number
	dec := json.NewDecoder(strings.NewReader(string(rawv)))
	dec.UseNumber()
	if err := dec.Decode(&n); err == nil {
		if i, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
			return strconv.FormatInt(i, 10), nil
		}
	}
	return "", fmt.Errorf("claim %q is neither a string nor an integer: %w", name, ErrNoTenant)
}

// First returns a selector that tries sels in turn and returns the first
// result; when all fail, their errors, joined.
func First(sels ...ply.Selector) ply.Selector {
	return func(ctx context.Context, req any) (string, error) {
		var errs []error
		for _, s := range sels {
			v, err := s(ctx, req)
			if err == nil {
				return v, nil
			}
			errs = append(errs, err)
		}
		return "", errors.Join(errs...)
	}
}

// Deprecation returns a plugin whose layer adds the RFC 9745 header
// "Deprecation: @<unix time>" to every HTTP response served by a
// deprecated plugin version ([ply.Call.Deprecation]) whose release gives
// its date ([ply.Release.Since]). It sits in the System band, outermost,
// so the header is set before any inner layer writes the response.
func Deprecation() ply.Plugin {
	return ply.Func{
		Meta: ply.Info{Name: "deprecation", Version: "1.0.0", Priority: ply.System, Kinds: []ply.Kind{ply.KindHTTP},
			Description: "RFC 9745 Deprecation header for calls served by deprecated plugin versions"},
		OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
			return ply.Wrap{Layer: deprecationLayer}, nil
		},
	}
}

func deprecationLayer(ctx context.Context, c *ply.Call, next ply.Next) error {
	if since, ok := c.Deprecation(); ok && !since.IsZero() {
		if w, ok := c.Response().(http.ResponseWriter); ok {
			w.Header().Set("Deprecation", DeprecationValue(since))
		}
	}
	return next.Run(ctx)
}

// DeprecationValue formats t as RFC 9745 wants it: a structured-field
// date, "@" and the Unix time in seconds.
func DeprecationValue(t time.Time) string { return "@" + strconv.FormatInt(t.Unix(), 10) }

// Default returns a selector that reads with sel and, when the request
// names no tenant (an error matching [ErrNoTenant]), returns name: the
// tenant of calls that say nothing. A tenant that is named but unknown is
// still refused by the host.
func Default(sel ply.Selector, name string) ply.Selector {
	return func(ctx context.Context, req any) (string, error) {
		v, err := sel(ctx, req)
		if errors.Is(err, ErrNoTenant) {
			return name, nil
		}
		return v, err
	}
}

// Context reads the tenant of the call the chain is called from: a chain
// called with a tenant's context ([ply.TenantOf]), such as an event
// handler's chain that an in-process event published in the tenant's call
// runs, serves that tenant. Compose it with the selector of the host's
// requests: First(Header("X-Tenant"), Context).
func Context(ctx context.Context, _ any) (string, error) {
	if t, ok := ply.TenantOf(ctx); ok {
		return t, nil
	}
	return "", fmt.Errorf("the context belongs to no tenant's call: %w", ErrNoTenant)
}
