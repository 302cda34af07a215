package config_test

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/plykit/ply/option"
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
		"plain":      func() ply.Plugin { return ply.Func{Meta: ply.Info{Name: "plain", Version: "1.0.0"}} },
	}
}

func TestLoadServes(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("file a"), 0o600); err != nil {
		t.Fatal(err)
	}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "upstream "+r.URL.Path)
	}))
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
	_, srv := startFile(t, file)
	base := "http://" + srv.Addr().String()
	for _, tt := range []struct{ path, want string }{
		{"/site/hello", "200 static hi there"},
		{"/site/info", "201  {\"ok\":true}\n"},
		{"/site/files/a.txt", "200  file a"},
		{"/site/up/x", "200  upstream /site/up/x"},
	} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+tt.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if got := resp.Status[:3] + " " + resp.Header.Get("X-Kind") + " " + string(b); got != tt.want {
			t.Errorf("GET %s = %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tt := range []struct {
		name, file string
		want       []string // lines of the joined error, from Load or else from the host's Plan
	}{
		{name: "missing env var", file: "plugins:\n  - name: greet\n    options:\n      greeting: ${NOPE_NOT_SET}\n",
			want: []string{"ply.yaml:4:17: plugins[0].options.greeting: environment variable NOPE_NOT_SET is not set; export it, or write $${NOPE_NOT_SET} for a literal ${NOPE_NOT_SET}"}},
		{name: "env var unquoted in a flow mapping", file: "plugins:\n  - name: greet\n    options: {greeting: ${GREETING}}\n",
			want: []string{`ply.yaml:3:26: syntax error: ',' or '}' must be specified (in {...} or [...], put ${NAME} in quotes: "${NAME}")`}},
		{name: "unknown key and unknown plugin", file: "listne: x\nplugins:\n  - name: nope\n",
			want: []string{`ply.yaml:1:1: listne: unknown field (did you mean "listen"?)`, `ply.yaml:3:11: plugins[0].name: no plugin named "nope"; known: greet, httpserver, plain`}},
		{name: "unknown plugin, with the closest name", file: "plugins:\n  - name: gret\n",
			want: []string{`ply.yaml:2:11: plugins[0].name: no plugin named "gret"; did you mean "greet"? (ply plugins lists them all)`}},
		{name: "plugin listed twice", file: "plugins:\n  - name: greet\n  - name: httpserver\n  - name: greet\n    options: {greeting: hello}\n",
			want: []string{`ply.yaml:4:11: plugins[2].name: plugin "greet" is listed twice (first at line 2); keep one entry`}},
		{name: "module and route options for plugins the host does not have", file: "plugins:\n  - name: greet\nmodules:\n  - name: m\n    options:\n      gret: {times: 1}\n    routes:\n      - route: GET /x\n        static: {text: a}\n        options:\n          cache: {ttl: 1s}\n",
			want: []string{
				`ply.yaml:6:13: modules[0].options.gret: options for plugin "gret", which this host does not have; did you mean "greet"?`,
				`ply.yaml:11:18: modules[0].routes[0].options.cache: options for plugin "cache", which this host does not have; add it to plugins, or remove these options`,
			}},
		{name: "options for a plugin that takes none", file: "plugins:\n  - name: plain\n    options: {x: 1}\n",
			want: []string{"ply.yaml:3:14: plugins[0].options: plugin plain takes no options; remove them"}},
		{name: "listen and the server's options", file: "listen: 127.0.0.1:0\nplugins:\n  - name: httpserver\n    options: {addr: 127.0.0.1:1}\n",
			want: []string{`ply.yaml:1:9: listen: the httpserver plugin has options at line 4: set addr there and remove listen`}},
		{name: "empty file", file: "",
			want: []string{`ply.yaml: nothing to run: list plugins, or modules with routes, such as "modules: [{name: site, routes: [{route: GET /hello, static: {text: hello}}]}]"`}},
		{name: "only comments and listen", file: "# a host\nlisten: 127.0.0.1:0\n",
			want: []string{`ply.yaml:2:1: nothing to run: list plugins, or modules with routes, such as "modules: [{name: site, routes: [{route: GET /hello, static: {text: hello}}]}]"`}},
		{name: "proxy url without a host is not echoed (it may hold a password)", file: "modules:\n  - name: m\n    routes:\n      - route: GET /x\n        proxy: {url: \"http://alice:s3cret@\"}\n",
			want: []string{`ply.yaml:4:9: modules[0].routes[0]: proxy url: want an absolute http(s) URL with a host, such as http://127.0.0.1:9000`}},
		{name: "route with two handlers", file: "modules:\n  - name: m\n    routes:\n      - route: GET /x\n        static: {text: a}\n        files: {dir: /}\n",
			want: []string{`ply.yaml:4:9: modules[0].routes[0]: route "GET /x": give exactly one of static, proxy and files (got 2)`}},
		{name: "unknown key at its own path", file: "modules:\n  - name: m\n    routes:\n      - route: GET /x\n        static: {txt: a}\n",
			want: []string{`ply.yaml:5:18: modules[0].routes[0].static.txt: unknown field (did you mean "text"?)`}},
		{name: "route patterns that ServeMux rejects", file: "modules:\n  - name: m\n    prefix: /m\n    routes:\n      - route: FOO BAR BAZ\n        static: {text: a}\n      - route: GET hi\n        static: {text: a}\n      - route: GET /x/{\n        static: {text: a}\n",
			want: []string{
				`ply.yaml:5:16: modules[0].routes[0].route: route "FOO BAR BAZ": write a method and a path that starts with "/", such as "GET /hello"`,
				`ply.yaml:7:16: modules[0].routes[1].route: route "GET hi": write a method and a path that starts with "/", such as "GET /hello"`,
				`ply.yaml:9:16: modules[0].routes[2].route: route "GET /x/{" ("GET /m/x/{" with the module's prefix) is not a valid net/http pattern: at offset 9: bad wildcard segment (must end with '}'); write [METHOD ]/path, with {name} or {name...} wildcards`,
			}},
		{name: "the same route in two modules", file: "modules:\n  - name: a\n    routes:\n      - route: GET /x\n        static: {text: a}\n  - name: b\n    routes:\n      - route: GET /x\n        static: {text: b}\n",
			want: []string{`ply.yaml:8:16: modules[1].routes[0].route: route "GET /x" conflicts with route "GET /x" of module a at line 4: GET /x matches the same requests as GET /x; change one of them`}},
		{name: "a route on the health endpoint", file: "modules:\n  - name: a\n    routes:\n      - route: GET /healthz\n        static: {text: a}\n",
			want: []string{`ply.yaml:4:16: modules[0].routes[0].route: route "GET /healthz" conflicts with the httpserver plugin's endpoint "GET /healthz" (move it with its healthPath and readyPath options): GET /healthz matches the same requests as GET /healthz`}},
		{name: "plugin options are checked by the host, with positions", file: "plugins:\n  - name: greet\n    options:\n      greeting: x\n      times: -1\nmodules:\n  - name: m\n    options:\n      greet: {tims: 1}\n",
			want: []string{
				"ply.yaml:4:17: plugin greet: greeting: must be at least 2 characters long",
				"ply.yaml:5:14: plugin greet: times: must be >= 0",
				`ply.yaml:9:15: module m (plugin greet): tims: unknown field (did you mean "times"?)`,
			}},
		{name: "problems in file order", file: "modules:\n  - name: m\n    routes:\n      - route: GET hi\n        static: {text: a, status: 999}\nplugins:\n  - name: nope\nlistne: x\n",
			want: []string{
				`ply.yaml:4:16: modules[0].routes[0].route: route "GET hi": write a method and a path that starts with "/", such as "GET /hello"`,
				`ply.yaml:5:35: modules[0].routes[0].static.status: must be <= 599`,
				`ply.yaml:7:11: plugins[0].name: no plugin named "nope"; known: greet, httpserver, plain`,
				`ply.yaml:8:1: listne: unknown field (did you mean "listen"?)`,
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

func TestLoadRefusesLargeFiles(t *testing.T) {
	data := []byte("modules:\n" + strings.Repeat("# padding\n", config.MaxSize/10+1))
	var srv *httpserver.Server
	h, err := config.Load("big.yaml", data, catalog(&srv), "httpserver")
	want := fmt.Sprintf("big.yaml: the file is %d bytes, over the limit of %d (256 KiB); keep large data out of it, or split the host", len(data), config.MaxSize)
	if h != nil || err == nil || err.Error() != want {
		t.Fatalf("Load() = %v, %v; want %s", h, err, want)
	}
	if e, ok := errors.AsType[*option.Error](err); !ok || e.File != "big.yaml" {
		t.Errorf("error %T is not an *option.Error naming the file", err)
	}
}

// ${NAME} is substituted in values only, after parsing: a comment or a key
// never triggers it, and $${NAME} is a literal.
func TestLoadEnvOnlyInValues(t *testing.T) {
	t.Setenv("GREETING", "howdy")
	file := "# set ${NOT_SET_IN_A_COMMENT} first\nplugins:\n  - name: greet # ${NOT_SET_EITHER}\n    options:\n      greeting: ${GREETING}\nmodules:\n  - name: m\n    routes:\n      - route: GET /x\n        static:\n          text: $${LITERAL}\n          headers: {'${NOT_A_VAR}': x}\n"
	var srv *httpserver.Server
	h, err := config.Load("ply.yaml", []byte(file), catalog(&srv), "httpserver")
	if err != nil {
		t.Fatal(err)
	}
	static := h.File.Modules[0].Routes[0].Static
	if static.Text != "${LITERAL}" || static.Headers["${NOT_A_VAR}"] != "x" {
		t.Errorf("static = %+v, want the literal and the key as written", static)
	}
	if got := h.File.Plugins[0].Options.(map[string]any)["greeting"]; got != "howdy" {
		t.Errorf("greeting = %v, want howdy", got)
	}
}

// The fuzz target's memory budget: what Load may allocate for any input
// under MaxSize. The worst 256 KiB file takes under 200 MB to parse; a bomb
// took gigabytes. A hostile file is refused within hostileBudget.
const (
	loadBudget    = 512 << 20
	hostileBudget = 128 << 20
)

func TestLoadHostileFilesStayInBudget(t *testing.T) {
	var b strings.Builder
	b.WriteString("plugins:\n  - name: greet\n    options:\n      a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "      a%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d,", i-1), 10), ","))
	}
	for _, tt := range []struct{ name, file string }{
		{"billion laughs", b.String()},
		{"deep flow", "modules: " + strings.Repeat("[", config.MaxSize-20)},
		{"deep block", "modules:\n" + strings.Repeat("- ", (config.MaxSize-20)/2) + "x"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var srv *httpserver.Server
			var err error
			alloc := allocated(func() { _, err = config.Load("ply.yaml", []byte(tt.file), catalog(&srv), "httpserver") })
			if err == nil {
				t.Fatal("Load accepted a hostile file")
			}
			if alloc > hostileBudget {
				t.Errorf("Load allocated %d MiB (budget %d MiB)", alloc>>20, hostileBudget>>20)
			}
			t.Logf("%d bytes: %v (%d MiB)", len(tt.file), err, alloc>>20)
		})
	}
}

func TestReadFileRefusesLargeFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, make([]byte, config.MaxSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := config.ReadFile(path)
	if e, ok := errors.AsType[*option.Error](err); !ok || e.File != path {
		t.Fatalf("ReadFile() error = %v, want an *option.Error naming the file", err)
	}
	if err := os.WriteFile(path, []byte("listen: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if data, err := config.ReadFile(path); err != nil || string(data) != "listen: x\n" {
		t.Errorf("ReadFile() = %q, %v", data, err)
	}
}

// startFile loads a config file and starts its host, stopped at cleanup.
func startFile(t *testing.T, file string) (*ply.Host, *httpserver.Server) {
	t.Helper()
	var srv *httpserver.Server
	return startLoaded(t, "ply.yaml", []byte(file), catalog(&srv), "httpserver"), srv
}

// startLoaded loads data as the file name with cat and server and starts
// its host, stopped when the test ends.
func startLoaded(t *testing.T, name string, data []byte, cat config.Catalog, server string) *ply.Host {
	t.Helper()
	h, err := config.Load(name, data, cat, server)
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
	t.Cleanup(func() { _ = host.Stop(context.Background()) })
	return host
}

// lazy: true leaves a plugin out of the start: its first use loads it.
func TestLoadLazy(t *testing.T) {
	file := "listen: 127.0.0.1:0\nplugins:\n  - name: plain\n    lazy: true\n"
	host, _ := startFile(t, file)
	for _, st := range host.Health(t.Context()) {
		if st.Name == "plain" && st.State != ply.StateLazy {
			t.Errorf("plain is %s after the start, want lazy", st.State)
		}
	}
}
