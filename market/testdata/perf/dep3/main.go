// Command dep3 is a dependency of perf/app, for the install benchmark.
package main

import "github.com/plykit/ply/wasm/guest"

func init() {
	guest.Register(guest.Plugin{
		Name: "dep3", Version: "1.3.0", Description: "dependency 3 of app", Kinds: []string{"http"},
		Layer: func(_ *guest.Request, res *guest.Response) { res.AddHeader("X-Dep", "dep3") },
	})
}

func main() {}
