// Command dep4 is a dependency of perf/app, for the install benchmark.
package main

import "github.com/plykit/ply/wasm/guest"

func init() {
	guest.Register(guest.Plugin{
		Name: "dep4", Version: "1.4.0", Description: "dependency 4 of app", Kinds: []string{"http"},
		Layer: func(_ *guest.Request, res *guest.Response) { res.AddHeader("X-Dep", "dep4") },
	})
}

func main() {}
