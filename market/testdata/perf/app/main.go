// Command app requires five plugins, for the install benchmark.
package main

import "github.com/plykit/ply/wasm/guest"

func init() {
	guest.Register(guest.Plugin{
		Name: "app", Version: "1.0.0", Description: "an app with five dependencies", Kinds: []string{"http"},
		Requires: []guest.Dependency{{Name: "dep1", Constraint: "^1"}, {Name: "dep2", Constraint: "^1"},
			{Name: "dep3", Constraint: "^1"}, {Name: "dep4", Constraint: ">=1.4, <2"}, {Name: "dep5", Constraint: "~1.5"}},
		Layer: func(_ *guest.Request, res *guest.Response) { res.AddHeader("X-App", "app") },
	})
}

func main() {}
