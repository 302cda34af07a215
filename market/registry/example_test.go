package registry_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"

	"github.com/plykit/ply/market/client"
	"github.com/plykit/ply/market/registry"
)

// A registry is an http.Handler; ply registry serve listens with one.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "registry")
	defer func() { _ = os.RemoveAll(dir) }()
	ctx := context.Background()
	srv, err := registry.Open(ctx, registry.Config{Dir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = srv.Close() }()
	_, err = srv.AddPublisher(ctx, "acme", "not a key")
	fmt.Println(err)

	ts := httptest.NewServer(srv)
	defer ts.Close()
	c := &client.Client{URL: ts.URL}
	res, _ := c.Search(ctx, "auth")
	fmt.Println(len(res), "plugins")
	_, err = c.Plugin(ctx, "auth")
	fmt.Println(err)
	// Output:
	// publisher acme: not a minisign public key: minisign: invalid public key: illegal base64 data at input byte 3: bad request
	// 0 plugins
	// registry: plugin auth: not found (404)
}
