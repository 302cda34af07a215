// Command dep2 is a dependency of perf/app, for the install benchmark.
package main

import "github.com/plykit/ply/wasm/guest"

func init() {
	guest.Register(guest.Plugin{
		Name: "dep2", Version: "1.2.0", Description: "dependency 2 of app", Kinds: []string{"http"},
		Layer: func(_ *guest.Request, res *guest.Response) { res.AddHeader("X-Dep", "dep2") },
	})
}

func main() {}
