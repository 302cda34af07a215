package admin_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/plykit/ply"
	"github.com/plykit/ply/admin"
)

// The admin page is a plugin of the host it shows: register it, start the
// host, and open the login URL (it carries the token) in a browser. The
// JSON API takes the token as a bearer header.
func ExampleNew() {
	page, err := admin.New(admin.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	h, err := ply.New([]ply.Plugin{page}, ply.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := h.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = h.Stop(ctx) }()

	for _, auth := range []string{"", "Bearer " + page.Token()} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+page.Addr().String()+"/api/plugins", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		_ = res.Body.Close()
		fmt.Println(res.Status)
	}
	// Output:
	// 401 Unauthorized
	// 200 OK
}
