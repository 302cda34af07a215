package middleware_test

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/plykit/ply/internal/options"
	"github.com/plykit/ply/middleware"
	"github.com/plykit/ply/option"
)

// allOptions lists a pointer to the zero value of every options struct, and whether
// the zero value is valid.
var allOptions = []struct {
	opts    any
	zeroOK  bool
	example string // YAML options a user could write
}{
	{&middleware.RecoverOptions{}, true, "name: stock.recover"},
	{&middleware.RequestIDOptions{}, true, "header: X-Correlation-Id\ntrustIncoming: true"},
	{&middleware.AccessLogOptions{}, true, "level: debug"},
	{&middleware.AuthOptions{}, false, "apiKeys:\n  - name: ops\n    key: 0123456789abcdef0123\n    scopes: [read]\njwt:\n  jwksURL: https://id.example.com/jwks.json\n  issuer: https://id.example.com/\n  audience: shop\n  leeway: 5s\nrequiredScopes: [read]"},
	{&middleware.CORSOptions{}, true, "allowedOrigins: [https://app.example.com]\nallowCredentials: true\nmaxAge: 600"},
	{&middleware.RateLimitOptions{}, true, "rate: 5\nburst: 10\nkey: header:X-Tenant\nidleTTL: 10m"},
	{&middleware.TimeoutOptions{}, true, "timeout: 2s\nstatus: 504"},
	{&middleware.CacheOptions{}, true, "maxBytes: 16777216\nttl: 30s\nvary: [Accept-Language]"},
	{&middleware.RetryOptions{}, true, "maxAttempts: 4\ninitialInterval: 50ms\nstatuses: [503]"},
	{&middleware.BreakerOptions{}, true, "failures: 3\ntimeout: 10s"},
	{&middleware.BulkheadOptions{}, true, "maxConcurrent: 8\nmaxWait: 100ms"},
	{&middleware.MetricsOptions{}, true, "scope: shop"},
	{&middleware.TracingOptions{}, true, "scope: shop"},
	{&middleware.ErrorReportOptions{}, true, "plugin: stock.errors\nversion: 1.0.0"},
}

func TestOptionsSchemasAndDefaults(t *testing.T) {
	for _, tt := range allOptions {
		name := reflect.TypeOf(tt.opts).Elem().Name()
		t.Run(name, func(t *testing.T) {
			if _, err := options.Schema(tt.opts); err != nil {
				t.Fatalf("Schema: %v", err)
			}
			problems := options.Validate(tt.opts, nil)
			if tt.zeroOK && len(problems) > 0 {
				t.Errorf("zero value: %v, want no problems", problems)
			}
			if !tt.zeroOK && len(problems) == 0 {
				t.Error("zero value has no problems, want some")
			}
			v := reflect.New(reflect.TypeOf(tt.opts).Elem()).Interface()
			if problems := options.Load(options.Source{File: "ply.yaml", Data: []byte(tt.example)}, v); len(problems) > 0 {
				t.Errorf("Load(%q): %v", tt.example, problems)
			}
		})
	}
}

func TestOptionsProblemsNameTheField(t *testing.T) {
	for _, tt := range []struct {
		yaml string
		dst  any
		want string
	}{
		{"burst: 0\nrate: -1", &middleware.RateLimitOptions{}, "rate"},
		{"key: cookie", &middleware.RateLimitOptions{}, "key"},
		{"status: 500", &middleware.TimeoutOptions{}, "status"},
		{"maxAttempts: 0\nstatuses: [404]", &middleware.RetryOptions{}, "statuses"},
		{"allowCredentials: true", &middleware.CORSOptions{}, "allowedOrigins"},
		{"apiKeys: [{name: a, key: short}]", &middleware.AuthOptions{}, "apiKeys"},
	} {
		problems := options.Load(options.Source{File: "ply.yaml", Data: []byte(tt.yaml)}, tt.dst)
		var all []string
		for _, p := range problems {
			all = append(all, p.Error())
		}
		if got := strings.Join(all, "; "); !strings.Contains(got, tt.want) {
			t.Errorf("Load(%q) = %q, want a problem naming %s", tt.yaml, got, tt.want)
		}
	}
}

func TestConstructorErrorsNameLayerFieldAndFix(t *testing.T) {
	_, err := middleware.NewRateLimit(middleware.RateLimitOptions{Burst: -1, Key: "cookie"}, nil)
	want := "plugin ratelimit: burst: must be >= 1, got -1\n" +
		`plugin ratelimit: key: must match pattern "^(ip|principal|header:[A-Za-z0-9-]+)$", such as "ip", "principal" or "header:X-Tenant"`
	if err == nil || err.Error() != want {
		t.Fatalf("NewRateLimit error = %v, want %s", err, want)
	}
	fe, ok := errors.AsType[*option.Error](err)
	if !ok || fe.Plugin != "ratelimit" || fe.Field != "burst" {
		t.Errorf("errors.AsType[*option.Error] = %v, %v; want the burst problem of ratelimit", fe, ok)
	}
}

// A constructor checks the limits in its options' tags, as a host does: the
// options structs have no Validate method that says them again.
func TestConstructorsCheckTheTags(t *testing.T) {
	for _, tt := range []struct {
		name  string
		new   func() error
		field string
	}{
		{"timeout", func() error { _, err := middleware.NewTimeout(middleware.TimeoutOptions{Status: 500}); return err }, "status"},
		{"bulkhead", func() error {
			_, err := middleware.NewBulkhead(middleware.BulkheadOptions{MaxConcurrent: -1})
			return err
		}, "maxConcurrent"},
		{"requestid", func() error {
			_, err := middleware.NewRequestID(middleware.RequestIDOptions{Header: "X Id"})
			return err
		}, "header"},
		{"accesslog", func() error {
			_, err := middleware.NewAccessLog(middleware.AccessLogOptions{Level: "loud"}, nil)
			return err
		}, "level"},
		{"retry", func() error { _, err := middleware.NewRetry(middleware.RetryOptions{Statuses: []int{404}}); return err }, "statuses[0]"},
		{"retry", func() error {
			_, err := middleware.NewRetry(middleware.RetryOptions{Multiplier: math.Inf(1)})
			return err
		}, "multiplier"},
		{"ratelimit", func() error {
			_, err := middleware.NewRateLimit(middleware.RateLimitOptions{Rate: math.NaN()}, nil)
			return err
		}, "rate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.new()
			fe, ok := errors.AsType[*option.Error](err)
			if !ok || fe.Plugin != tt.name || fe.Field != tt.field {
				t.Errorf("error = %v, want an *option.Error of %s at %s", err, tt.name, tt.field)
			}
		})
	}
}
