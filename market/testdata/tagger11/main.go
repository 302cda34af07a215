// Command tagger is a test plugin for the marketplace: it tags each
// request with the header X-Tagger, which greeter requires.
package main

import "github.com/plykit/ply/wasm/guest"

func init() {
	guest.Register(guest.Plugin{
		Name:        "tagger",
		Version:     "1.1.0",
		Priority:    100,
		Description: "tags requests with X-Tagger for the plugins after it",
		Kinds:       []string{"http"},
		Layer: func(_ *guest.Request, res *guest.Response) {
			res.SetRequestHeader("X-Tagger", "tagger@1.1.0")
		},
	})
}

func main() {}
