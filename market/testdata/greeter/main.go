// Command greeter is a test plugin for the marketplace: it requires
// tagger ^1 and answers with the tag tagger set, so that a call shows it
// went through both.
package main

import "github.com/plykit/ply/wasm/guest"

func init() {
	guest.Register(guest.Plugin{
		Name:        "greeter",
		Version:     "1.0.0",
		Description: "greets, with the tag tagger set on the request",
		Kinds:       []string{"http"},
		Requires:    []guest.Dependency{{Name: "tagger", Constraint: "^1"}},
		After:       []string{"tagger"},
		Layer: func(req *guest.Request, res *guest.Response) {
			tag := req.Header("X-Tagger")
			if tag == "" {
				res.Fail("no X-Tagger: tagger did not run before greeter")
				return
			}
			res.SetHeader("Content-Type", "text/plain; charset=utf-8")
			res.Respond(200, []byte("hello from greeter, tagged by "+tag+"\n"))
		},
	})
}

func main() {}
