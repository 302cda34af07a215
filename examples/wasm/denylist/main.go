// Command denylist is a ply plugin compiled to WebAssembly: it refuses
// requests whose header (X-User by default) names a denied value, with a
// status and message of the operator's choosing. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o denylist.wasm ./examples/wasm/denylist
//
// and run it from ply.yaml with runtime: wasm (see ../ply.yaml).
package main

import (
	"strings"

	"github.com/plykit/ply/wasm/guest"
)

var (
	header  = "X-User"
	deny    []string
	status  = 403
	message = "denied"
	denied  map[string]bool
)

func init() {
	guest.Register(guest.Plugin{
		Name:        "denylist",
		Version:     "1.0.0",
		Priority:    100, // Security: outside the business layers
		Description: "refuses requests whose header names a denied value",
		Kinds:       []string{"http"},
		Options: []guest.Option{
			guest.String("header", &header, guest.Min(1), guest.Describe("the request header to check; default X-User")),
			guest.Strings("deny", &deny, guest.Required(), guest.Min(1), guest.Describe("the values refused, compared without regard to case")),
			guest.Int("status", &status, guest.Min(400), guest.Max(599), guest.Describe("the status of a refusal; default 403")),
			guest.String("message", &message, guest.Max(200), guest.Describe("the body of a refusal; default denied")),
		},
		Init: func() error {
			denied = make(map[string]bool, len(deny))
			for _, d := range deny {
				denied[strings.ToLower(d)] = true
			}
			return nil
		},
		Layer: func(req *guest.Request, res *guest.Response) {
			v := req.Header(header)
			if v != "" && denied[strings.ToLower(v)] {
				res.SetHeader("Content-Type", "text/plain; charset=utf-8")
				res.Respond(status, []byte(message+"\n"))
				return
			}
			res.SetRequestHeader("X-Denylist", "passed")
		},
	})
}

func main() {} // c-shared: the host calls the exports, never main
