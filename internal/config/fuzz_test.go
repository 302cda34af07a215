package config_test

import (
	"strings"
	"testing"

	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/internal/config"
)

// FuzzLoad feeds arbitrary files to the loader: it must never panic, every
// problem it reports must name the file, and a file it accepts must give a
// host whose plan can be built (or whose problems name the file too).
func FuzzLoad(f *testing.F) {
	f.Add("plugins:\n  - name: greet\n    options: {greeting: hi}\nmodules:\n  - name: m\n    routes:\n      - route: GET /x\n        static: {text: a}\n")
	f.Add("listen: 127.0.0.1:0\n")
	f.Add("modules: [{name: m, prefix: /p, routes: [{route: GET /f/, files: {dir: /}}]}]\n")
	f.Add("plugins: [{name: nope}]\n")
	f.Add("x: ${NOPE}\n")
	f.Fuzz(func(t *testing.T, file string) {
		var srv *httpserver.Server
		h, err := config.Load("fuzz.yaml", []byte(file), catalog(&srv), "httpserver")
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "fuzz.yaml") {
					t.Fatalf("problem without the file's name: %q", line)
				}
			}
			return
		}
		host, err := ply.New(h.Plugins, h.Options...)
		if err != nil {
			t.Fatalf("ply.New: %v", err)
		}
		_, _ = host.Plan() // must not panic
	})
}
