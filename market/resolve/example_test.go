package resolve_test

import (
	"context"
	"fmt"

	"github.com/plykit/ply/market/resolve"
)

// A conflict explains itself: which requirement of which plugin excludes
// which versions.
func ExampleSolve() {
	ix := index{
		"greeter": {"1.0.0 -> tagger ^1"},
		"tagger":  {"1.0.0", "2.0.0"},
	}
	picks, _ := resolve.Solve(context.Background(), ix, []resolve.Requirement{{Name: "greeter"}}, resolve.Options{ABI: 1})
	for _, p := range picks {
		fmt.Println(p.Name, p.Version)
	}
	_, err := resolve.Solve(context.Background(), ix,
		[]resolve.Requirement{{Name: "greeter"}, {Name: "tagger", Constraint: "^2"}}, resolve.Options{ABI: 1})
	fmt.Println(err)
	// Output:
	// greeter 1.0.0
	// tagger 1.0.0
	// no set of plugin versions satisfies the request:
	//   because you require greeter (any version),
	//   greeter 1.0.0 cannot be used:
	//     because you require tagger ^2,
	//     because greeter 1.0.0 requires tagger ^1,
	//     and tagger 2.0.0 (excluded because greeter 1.0.0 requires tagger ^1), 1.0.0 (excluded because you require tagger ^2),
	//     so no version of tagger can be installed.
	//   so no version of greeter can be installed.
}
