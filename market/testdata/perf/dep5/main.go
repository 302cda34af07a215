// Command dep5 is a dependency of perf/app, for the install benchmark.
package main

import "github.com/plykit/ply/wasm/guest"

func init() {
	guest.Register(guest.Plugin{
		Name: "dep5", Version: "1.5.0", Description: "dependency 5 of app", Kinds: []string{"http"},
		Layer: func(_ *guest.Request, res *guest.Response) { res.AddHeader("X-Dep", "dep5") },
	})
}

func main() {}
