package config_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/plykit/ply"
	"github.com/plykit/ply/internal/config"
	"github.com/plykit/ply/option"
)

type versionOptions struct {
	Tag string `json:"tag"`
}

// versioned returns a plugin name@version whose layer says which version
// and tag served the call, in a response header.
func versioned(name, version string) func() ply.Plugin {
	return func() ply.Plugin {
		opts := &versionOptions{}
		return ply.Func{Meta: ply.Info{Name: name, Version: version, Kinds: []ply.Kind{ply.KindHTTP}}, Opts: opts,
			OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
				return ply.Wrap{Layer: func(ctx context.Context, c *ply.Call, next ply.Next) error {
					c.Response().(http.ResponseWriter).Header().Add("Served-By", name+"@"+version+" "+opts.Tag)
					return next.Run(ctx)
				}}, nil
			}}
	}
}

const versionsYAML = `plugins:
  - name: auth
    version: 1.4.0
    options: {tag: old}
  - name: auth
    version: 2.0.0
    options: {tag: new}
modules:
  - name: api
    routes:
      - route: GET /hello
        static: {text: hi}
versions:
  header: Ply-Version
  plugins:
    auth:
      choosable: true
      releases:
        2.0.0: {state: beta}
tenants:
  from: {header: X-Tenant}
  list:
    - name: early
      plugins:
        auth: {version: 2.0.0}
    - name: late
`

func TestLoadVersions(t *testing.T) {
	cat := config.Catalog{"auth@1.4.0": versioned("auth", "1.4.0"), "auth@2.0.0": versioned("auth", "2.0.0")}
	cfg, err := config.Load("ply.yaml", []byte(versionsYAML), cat, "")
	if err != nil {
		t.Fatal(err)
	}
	h, err := ply.New(cfg.Plugins, append(cfg.Options, ply.WithLogger(slog.New(slog.DiscardHandler)))...)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.Stop(context.WithoutCancel(t.Context())) }()
	ch, err := h.Chain("api", "GET /hello")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ tenant, ask, want string }{
		{"late", "", "auth@1.4.0 old"},           // 2.0.0 is beta: not the default
		{"early", "", "auth@2.0.0 new"},          // pinned
		{"late", "auth@2.0.0", "auth@2.0.0 new"}, // asked for, and choosable
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/hello", nil)
		r.Header.Set("X-Tenant", tt.tenant)
		if tt.ask != "" {
			r.Header.Set("Ply-Version", tt.ask)
		}
		if _, err := ch.Serve(t.Context(), r, w); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(w.Header().Values("Served-By"), ", "); got != tt.want {
			t.Errorf("tenant %s asking %q: served by %q, want %q", tt.tenant, tt.ask, got, tt.want)
		}
	}
}

func TestLoadVersionsErrors(t *testing.T) {
	cat := config.Catalog{"auth@1.4.0": versioned("auth", "1.4.0")}
	for _, tt := range []struct{ name, yaml, want string }{
		{"a version the catalog lacks", "plugins: [{name: auth, version: 9.0.0}]", "it has versions 1.4.0"},
		{"a version twice", "plugins: [{name: auth, version: 1.4.0}, {name: auth, version: 1.4.0}]", `"auth@1.4.0" is listed twice`},
		{"choosable without a header", "plugins: [{name: auth, version: 1.4.0}]\nversions: {plugins: {auth: {choosable: true}}}", "set versions.header"},
		{"an unknown plugin", "plugins: [{name: auth, version: 1.4.0}]\nversions: {plugins: {nope: {choosable: true}}, header: V}", `plugin "nope" is not in this host's plugins`},
		{"two sticky sources", "plugins: [{name: auth, version: 1.4.0}]\nversions: {plugins: {auth: {weights: {1.4.0: 1}, sticky: {header: A, claim: b}}}}", "exactly one of header"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load("ply.yaml", []byte(tt.yaml), cat, "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load error = %v, want one saying %q", err, tt.want)
			}
			if oe, ok := errors.AsType[*option.Error](err); !ok || oe.Line == 0 {
				t.Errorf("Load error %v: want an *option.Error with its line", err)
			}
		})
	}
}
