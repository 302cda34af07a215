package guest_test

import (
	"fmt"
	"slices"
	"strings"

	"github.com/plykit/ply/wasm/guest"
)

// A guest declares its plugin once, from init: its identity and place, its
// options bound to variables (with the limits the host checks), and its
// layer. Built with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared,
// the kit exports it to the host; see examples/wasm/denylist.
func ExampleRegister() {
	var (
		header = "X-User"
		deny   []string
	)
	guest.Register(guest.Plugin{
		Name:     "denylist",
		Version:  "1.0.0",
		Priority: 100, // Security
		Kinds:    []string{"http"},
		Options: []guest.Option{
			guest.String("header", &header, guest.Min(1)),
			guest.Strings("deny", &deny, guest.Required(), guest.Min(1)),
		},
		Layer: func(req *guest.Request, res *guest.Response) {
			if slices.Contains(deny, strings.ToLower(req.Header(header))) {
				res.Respond(403, []byte("denied\n"))
				return
			}
			res.SetRequestHeader("X-Denylist", "passed") // and the chain goes on
		},
	})
	fmt.Println("registered")
	// Output: registered
}
