package config_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/internal/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type greetOptions struct {
	Greeting string `json:"greeting,omitempty" jsonschema:"minLength=2"`
	Times    int    `json:"times,omitempty" jsonschema:"minimum=0"`
}

func catalog(srv **httpserver.Server) config.Catalog {
	return config.Catalog{
		"greet": func() ply.Plugin {
			return ply.Func{Meta: ply.Info{Name: "greet", Version: "1.0.0"}, Opts: &greetOptions{}, HandlerOpts: func() any { return &greetOptions{} }}
		},
		"httpserver": func() ply.Plugin { *srv = httpserver.New(httpserver.Options{}); return *srv },
	}
}

func TestLoadServes(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("file a"), 0o600); err != nil {
		t.Fatal(err)
	}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "upstream "+r.URL.Path) }))
	defer upstream.Close()
	t.Setenv("GREETING", "howdy")
	file := `listen: 127.0.0.1:0
plugins:
  - name: greet
    priority: 10
    options:
      greeting: ${GREETING}
modules:
  - name: site
    prefix: /site
    options:
      greet: {times: 2}
    routes:
      - route: GET /hello
        static: {text: "hi there", headers: {X-Kind: static}}
      - route: GET /info
        static: {status: 201, json: {ok: true}}
      - route: GET /files/
        files: {dir: ` + dir + `}
      - route: GET /up/{rest...}
        proxy: {url: ` + upstream.URL + `}
`
	var srv *httpserver.Server
	h, err := config.Load("ply.yaml", []byte(file), catalog(&srv), "httpserver")
	if err != nil {
		t.Fatal(err)
	}
	host, err := ply.New(h.Plugins, append(h.Options, ply.WithLogger(discard))...)
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer host.Stop(context.Background())
	base := "http://" + srv.Addr().String()
	for _, tt := range []struct{ path, want string }{
		{"/site/hello", "200 static hi there"},
		{"/site/info", "201  {\"ok\":true}\n"},
		{"/site/files/a.txt", "200  file a"},
		{"/site/up/x", "200  upstream /site/up/x"},
	} {
		resp, err := http.Get(base + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := resp.Status[:3] + " " + resp.Header.Get("X-Kind") + " " + string(b); got != tt.want {
			t.Errorf("GET %s = %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tt := range []struct {
		name, file string
		env        map[string]string
		want       []string // lines of the joined error, from Load or else from the host's Plan
	}{
		{name: "missing env var", file: "plugins:\n  - name: greet\n    options: {greeting: ${NOPE_NOT_SET}}\n",
			want: []string{"ply.yaml:3: ${NOPE_NOT_SET}: environment variable not set; export it, or write $${NOPE_NOT_SET} for a literal"}},
		{name: "unknown key and unknown plugin", file: "listne: x\nplugins:\n  - name: nope\n",
			want: []string{`ply.yaml:1:1: listne: unknown field (did you mean "listen"?)`, `ply.yaml: plugins[0]: no plugin named "nope"; known: greet, httpserver`}},
		{name: "unknown plugin", file: "plugins:\n  - name: nope\n",
			want: []string{"ply.yaml: plugins[0]: no plugin named \"nope\"; known: greet, httpserver"}},
		{name: "route with two handlers", file: "modules:\n  - name: m\n    routes:\n      - route: GET /x\n        static: {text: a}\n        files: {dir: /}\n",
			want: []string{`ply.yaml:4:9: modules[0].routes[0]: route "GET /x": give exactly one of static, proxy and files (got 2)`}},
		{name: "plugin options are checked by the host, with positions", file: "plugins:\n  - name: greet\n    options:\n      greeting: x\n      times: -1\nmodules:\n  - name: m\n    options:\n      greet: {tims: 1}\n",
			want: []string{
				"ply.yaml:4:17: plugin greet: greeting: must be at least 2 characters long",
				"ply.yaml:5:14: plugin greet: times: must be >= 0",
				`ply.yaml:9:15: module m (plugin greet): tims: unknown field (did you mean "times"?)`,
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var srv *httpserver.Server
			h, err := config.Load("ply.yaml", []byte(tt.file), catalog(&srv), "httpserver")
			if err == nil && h != nil {
				host, _ := ply.New(h.Plugins, h.Options...)
				_, err = host.Plan()
			}
			if err == nil {
				t.Fatal("no error")
			}
			if diff := cmp.Diff(tt.want, strings.Split(err.Error(), "\n")); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}
