package discover_test

import (
	"fmt"

	"github.com/plykit/ply/market/discover"
)

// Merge keeps one row per name and version, newest first, with every
// source that has it, most trusted first.
func ExampleMerge() {
	sources := []discover.Source{{Dir: "plugins"}, {Registry: "http://127.0.0.1:8765"}}
	found := [][]discover.Module{
		{{Name: "tagger", Version: "1.1.0"}},
		{{Name: "tagger", Version: "1.0.0"}, {Name: "tagger", Version: "1.1.0"}},
	}
	for _, a := range discover.Merge(sources, found) {
		fmt.Println(a.Name, a.Version, a.From)
	}
	// Output:
	// tagger 1.1.0 [dir plugins registry http://127.0.0.1:8765]
	// tagger 1.0.0 [registry http://127.0.0.1:8765]
}
