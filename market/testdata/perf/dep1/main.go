// Command dep1 is a dependency of perf/app, for the install benchmark.
package main

import "github.com/plykit/ply/wasm/guest"

func init() {
	guest.Register(guest.Plugin{
		Name: "dep1", Version: "1.1.0", Description: "dependency 1 of app", Kinds: []string{"http"},
		Layer: func(_ *guest.Request, res *guest.Response) { res.AddHeader("X-Dep", "dep1") },
	})
}

func main() {}
