package wasm_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/plykit/ply"
	"github.com/plykit/ply/wasm"
)

// A module built with the guest kit becomes a plugin like any other: its
// manifest gives its Info, its options are checked by the host, and its
// layer answers calls. denylistWasm is examples/wasm/denylist, built by
// the tests with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared.
func ExampleOpen() {
	ctx := context.Background()
	p, err := wasm.Open(ctx, wasm.Config{Path: denylistWasm, Limits: wasm.Limits{Pool: 2}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Info().ID(), p.Info().Priority == ply.Security, p.Runtime())

	hello := func(_ context.Context, c *ply.Call) error {
		_, err := fmt.Fprint(c.Response().(http.ResponseWriter), "hello")
		return err
	}
	h, err := ply.New([]ply.Plugin{p},
		ply.WithOptions("denylist", ply.RawOptions{File: "ply.yaml", Data: []byte("deny: [mallory]\nstatus: 451\n")}),
		ply.WithModules(ply.Module{Name: "site", Handlers: []ply.Handler{{Kind: ply.KindHTTP, Name: "GET /", Func: hello}}}),
		ply.WithLogger(discard()))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := h.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = h.Stop(ctx) }()
	ch, _ := h.Chain("site", "GET /")
	for _, user := range []string{"alice", "mallory"} {
		r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
		r.Header.Set("X-User", user)
		w := httptest.NewRecorder()
		_, err := ch.Serve(ctx, r, w)
		fmt.Printf("%s: %d %q %v\n", user, w.Code, w.Body, err)
	}
	// Output:
	// denylist@1.0.0 true wasm
	// alice: 200 "hello" <nil>
	// mallory: 451 "denied\n" <nil>
}
