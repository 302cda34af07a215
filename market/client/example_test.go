package client_test

import (
	"fmt"

	"github.com/plykit/ply/market/client"
	"github.com/plykit/ply/market/lock"
)

// Remove refuses to take out a plugin that a locked one requires.
func ExampleRemove() {
	l := &lock.Lock{}
	l.Set(lock.Entry{Name: "tagger", Version: "1.0.0"})
	l.Set(lock.Entry{Name: "greeter", Version: "1.0.0", Requires: []lock.Dependency{{Name: "tagger", Constraint: "^1"}}})
	_, err := client.Remove(l, "tagger")
	fmt.Println(err)
	for _, name := range []string{"greeter", "tagger"} {
		c, _ := client.Remove(l, name)
		fmt.Println(c)
	}
	// Output:
	// plugin tagger is required by [greeter@1.0.0]: remove them first
	// - greeter@1.0.0
	// - tagger@1.0.0
}
