package config_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/internal/config"
)

// allocated returns how many bytes f allocated.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// FuzzLoad feeds arbitrary files to the loader: it must never panic, stay
// within a memory budget, name the file in every problem, and a file it
// accepts must give a host whose plan can be built (or whose problems name
// the file too).
func FuzzLoad(f *testing.F) {
	f.Add("plugins:\n  - name: greet\n    options: {greeting: hi}\nmodules:\n  - name: m\n    routes:\n      - route: GET /x\n        static: {text: a}\n")
	f.Add("listen: 127.0.0.1:0\n")
	f.Add("modules: [{name: m, prefix: /p, routes: [{route: GET /f/, files: {dir: /}}]}]\n")
	f.Add("plugins: [{name: nope}]\n")
	f.Add("plugins: [{name: greet}]\ntenants: {from: {header: X-T}, default: a, list: [{name: a, plugins: {greet: {options: {greeting: yo}, priority: 5}}}]}\n")
	f.Add("plugins: [{name: greet, version: 1.0.0}]\nversions: {header: V, plugins: {greet: {choosable: true, weights: {1.0.0: 1}, sticky: {claim: sub}}}}\n")
	f.Add("plugins: [{name: deny, runtime: wasm, path: nope.wasm, grants: {kv: true, http: [a.example]}, limits: {deadline: 1s, pool: 2}}]\n")
	f.Add("x: ${NOPE}\n")
	f.Add("modules: [{name: a, routes: [{route: GET /x, static: {}}]}, {name: b, routes: [{route: GET /x, static: {}}]}]\n")
	f.Add("modules: [{name: a, routes: [{route: 'GET /x/{', static: {}}, {route: FOO BAR BAZ, static: {}}]}]\n")
	var bomb strings.Builder // billion laughs
	bomb.WriteString("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&bomb, "a%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d,", i-1), 10), ","))
	}
	f.Add(bomb.String())
	f.Add("plugins:\n  - name: greet\n    options: &o {x: *o}\n")
	f.Add("modules: " + strings.Repeat("[", 5000))
	f.Add("modules:\n" + strings.Repeat("  ", 3000) + "- x\n")
	f.Add(strings.Repeat("modules: [{name: m}]\n", 2000))
	f.Fuzz(func(t *testing.T, file string) {
		var srv *httpserver.Server
		var h *config.Host
		var err error
		if alloc := allocated(func() { h, err = config.Load("fuzz.yaml", []byte(file), catalog(&srv), "httpserver") }); alloc > loadBudget {
			t.Fatalf("Load of %d bytes allocated %d MiB (budget %d MiB)", len(file), alloc>>20, loadBudget>>20)
		}
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "fuzz.yaml") {
					t.Fatalf("problem without the file's name: %q", line)
				}
			}
			if len(file) <= config.MaxSize || h != nil {
				return
			}
			t.Fatalf("Load accepted %d bytes, over MaxSize", len(file))
		}
		host, err := ply.New(h.Plugins, h.Options...)
		if err != nil {
			t.Fatalf("ply.New: %v", err)
		}
		_, _ = host.Plan() // must not panic
	})
}
