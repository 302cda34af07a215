package option_test

import (
	"errors"
	"fmt"

	"github.com/plykit/ply/option"
)

// A caller finds the plugin, the field and the position of each problem.
func ExampleError() {
	err := errors.Join(
		&option.Error{Plugin: "cache", Field: "ttl", File: "ply.yaml", Line: 12, Column: 8, Problem: "must be >= 0s"},
		&option.Error{Plugin: "cache", Field: "colour", File: "ply.yaml", Line: 13, Column: 3, Problem: `unknown field (did you mean "color"?)`},
	)
	fmt.Println(err)
	if e, ok := errors.AsType[*option.Error](err); ok {
		fmt.Printf("first: plugin %s, field %s, line %d\n", e.Plugin, e.Field, e.Line)
	}
	// Output:
	// ply.yaml:12:8: plugin cache: ttl: must be >= 0s
	// ply.yaml:13:3: plugin cache: colour: unknown field (did you mean "color"?)
	// first: plugin cache, field ttl, line 12
}
