package tenant_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/plykit/ply"
	"github.com/plykit/ply/tenant"
)

func jwt(t testing.TB, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"HS256"}`)) + "." + enc(payload) + ".c2ln"
}

func TestSelectors(t *testing.T) {
	req := func(target string, hdr ...string) *http.Request {
		r := httptest.NewRequestWithContext(context.Background(), http.MethodGet, target, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		return r
	}
	routed := req("http://x/t/acme/orders")
	routed.SetPathValue("tenant", "acme")
	for _, tt := range []struct {
		name    string
		sel     ply.Selector
		req     any
		want    string
		wantErr error
	}{
		{name: "header", sel: tenant.Header("x-tenant"), req: req("/", "X-Tenant", " acme "), want: "acme"},
		{name: "header absent", sel: tenant.Header("X-Tenant"), req: req("/"), wantErr: tenant.ErrNoTenant},
		{name: "header empty", sel: tenant.Header("X-Tenant"), req: req("/", "X-Tenant", " "), wantErr: tenant.ErrNoTenant},
		{name: "subdomain", sel: tenant.Host("api.example.com"), req: req("http://ACME.api.example.com:8080/"), want: "acme"},
		{name: "the bare domain", sel: tenant.Host("api.example.com"), req: req("http://api.example.com/"), wantErr: tenant.ErrNoTenant},
		{name: "two labels deep", sel: tenant.Host("example.com"), req: req("http://a.b.example.com/"), wantErr: tenant.ErrNoTenant},
		{name: "another domain", sel: tenant.Host("example.com"), req: req("http://acme.example.org/"), wantErr: tenant.ErrNoTenant},
		{name: "a look-alike domain", sel: tenant.Host("example.com"), req: req("http://acmeexample.com/"), wantErr: tenant.ErrNoTenant},
		{name: "path prefix", sel: tenant.PathPrefix("/t/"), req: req("/t/acme/orders"), want: "acme"},
		{name: "path prefix, nothing after", sel: tenant.PathPrefix("/t/"), req: req("/t/"), wantErr: tenant.ErrNoTenant},
		{name: "path prefix, another path", sel: tenant.PathPrefix("/t/"), req: req("/orders"), wantErr: tenant.ErrNoTenant},
		{name: "path value", sel: tenant.PathValue("tenant"), req: routed, want: "acme"},
		{name: "path value absent", sel: tenant.PathValue("tenant"), req: req("/"), wantErr: tenant.ErrNoTenant},
		{name: "claim", sel: tenant.Claim("tid"), req: req("/", "Authorization", "Bearer "+jwt(t, map[string]any{"tid": "acme"})), want: "acme"},
		{name: "integer claim", sel: tenant.Claim("tid"), req: req("/", "Authorization", "bearer "+jwt(t, map[string]any{"tid": 42})), want: "42"},
		{name: "claim absent", sel: tenant.Claim("tid"), req: req("/", "Authorization", "Bearer "+jwt(t, map[string]any{"sub": "u"})), wantErr: tenant.ErrNoTenant},
		{name: "claim of another type", sel: tenant.Claim("tid"), req: req("/", "Authorization", "Bearer "+jwt(t, map[string]any{"tid": []string{"a"}})), wantErr: tenant.ErrNoTenant},
		{name: "no bearer token", sel: tenant.Claim("tid"), req: req("/", "Authorization", "Basic dTpw"), wantErr: tenant.ErrNoTenant},
		{name: "malformed token", sel: tenant.Claim("tid"), req: req("/", "Authorization", "Bearer a.b"), wantErr: tenant.ErrNoTenant},
		{name: "not HTTP", sel: tenant.Header("X-Tenant"), req: "job", wantErr: tenant.ErrNotHTTP},
		{name: "first that reads", sel: tenant.First(tenant.Header("X-Tenant"), tenant.PathPrefix("/t/")), req: req("/t/acme"), want: "acme"},
		{name: "default when none is named", sel: tenant.Default(tenant.Header("X-Tenant"), "demo"), req: req("/"), want: "demo"},
		{name: "default leaves a named tenant", sel: tenant.Default(tenant.Header("X-Tenant"), "demo"), req: req("/", "X-Tenant", "acme"), want: "acme"},
		{name: "default keeps other errors", sel: tenant.Default(tenant.Header("X-Tenant"), "demo"), req: "job", wantErr: tenant.ErrNotHTTP},
		{name: "a context of no tenant's call", sel: tenant.Context, req: req("/"), wantErr: tenant.ErrNoTenant},
		{name: "none reads", sel: tenant.First(tenant.Header("X-Tenant"), tenant.PathPrefix("/t/")), req: req("/"), wantErr: tenant.ErrNoTenant},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.sel(t.Context(), tt.req)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("selector error = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("selector = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestDeprecationHeader serves one tenant with a deprecated version: its
// responses carry the RFC 9745 header, the other tenant's do not.
func TestDeprecationHeader(t *testing.T) {
	auth := func(v string) ply.Plugin {
		return ply.Func{Meta: ply.Info{Name: "auth", Version: v, Kinds: []ply.Kind{ply.KindHTTP}}, OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
			return ply.Wrap{Layer: func(ctx context.Context, c *ply.Call, next ply.Next) error {
				c.Response().(http.ResponseWriter).Header().Set("Served-By", "auth@"+v)
				return next.Run(ctx)
			}}, nil
		}}
	}
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h, err := ply.New([]ply.Plugin{tenant.Deprecation(), auth("1.0.0"), auth("2.0.0")},
		ply.WithLogger(slogDiscard()),
		ply.WithTenants(tenant.Header("X-Tenant"), ply.Tenant{Name: "old", Plugins: map[string]ply.TenantPlugin{"auth": {Version: "1.0.0"}}}, ply.Tenant{Name: "new"}),
		ply.WithRelease("auth@1.0.0", ply.Release{State: ply.Deprecated, Since: since}),
		ply.WithModules(ply.Module{Name: "api", Handlers: []ply.Handler{{Kind: ply.KindHTTP, Name: "GET /", Func: func(context.Context, *ply.Call) error { return nil }}}}))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Stop(context.WithoutCancel(t.Context())) }()
	ch, err := h.Chain("api", "GET /")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ tenant, servedBy, deprecation string }{
		{"old", "auth@1.0.0", "@1767323045"},
		{"new", "auth@2.0.0", ""},
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/", nil)
		r.Header.Set("X-Tenant", tt.tenant)
		if _, err := ch.Serve(t.Context(), r, w); err != nil {
			t.Fatalf("tenant %s: %v", tt.tenant, err)
		}
		if got := w.Header().Get("Served-By"); got != tt.servedBy {
			t.Errorf("tenant %s served by %q, want %q", tt.tenant, got, tt.servedBy)
		}
		if got := w.Header().Get("Deprecation"); got != tt.deprecation {
			t.Errorf("tenant %s: Deprecation %q, want %q", tt.tenant, got, tt.deprecation)
		}
	}
}

func FuzzClaimOf(f *testing.F) {
	f.Add(jwt(f, map[string]any{"tid": "acme"}), "tid")
	f.Add(jwt(f, map[string]any{"tid": 7}), "tid")
	f.Add("a.b.c", "tid")
	f.Add("..", "")
	f.Fuzz(func(t *testing.T, token, claim string) {
		v, err := tenant.ClaimOf(token, claim)
		if err != nil {
			if !errors.Is(err, tenant.ErrNoTenant) {
				t.Fatalf("ClaimOf error %v does not match ErrNoTenant", err)
			}
			return
		}
		if v == "" {
			t.Fatal("ClaimOf succeeded with an empty claim")
		}
		// The payload holds the claim: re-encoding it gives the value back.
		again, err := tenant.ClaimOf(jwt(t, map[string]any{claim: v}), claim)
		if err != nil || again != v {
			t.Fatalf("round trip of claim %q = %q: %q, %v", claim, v, again, err)
		}
	})
}

func FuzzSubdomain(f *testing.F) {
	f.Add("acme.example.com:8080", ".example.com")
	f.Add("example.com", ".example.com")
	f.Add("a.b.example.com.", ".example.com")
	f.Fuzz(func(t *testing.T, host, suffix string) {
		label, err := tenant.Subdomain(host, suffix)
		if err != nil {
			return
		}
		if label == "" || strings.Contains(label, ".") || label != strings.ToLower(label) {
			t.Fatalf("Subdomain(%q, %q) = %q: want one non-empty lower-case label", host, suffix, label)
		}
	})
}
