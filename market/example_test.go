package market_test

import (
	"fmt"

	"github.com/plykit/ply/market"
	"github.com/plykit/ply/wasm/abi"
)

// A registry lists a version's requirements from its manifest.
func ExampleRequires() {
	m := &abi.Manifest{Name: "greeter", Version: "1.0.0", Requires: []abi.Dependency{{Name: "tagger", Constraint: "^1"}}}
	fmt.Printf("%+v\n", market.Requires(m))
	// Output:
	// [{Name:tagger Constraint:^1 Optional:false}]
}
