package middleware_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/plykit/ply/middleware"
)

// Compose RequestID outside Recover: a panicking handler gets a 500 problem
// response that still carries the request's ID.
func ExampleNewRecover() {
	requestID, err := middleware.NewRequestID(middleware.RequestIDOptions{TrustIncoming: true})
	if err != nil {
		panic(err)
	}
	recoverer, err := middleware.NewRecover(middleware.RecoverOptions{Name: "stock.recover"}, slog.New(slog.DiscardHandler))
	if err != nil {
		panic(err)
	}
	app := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("bug") })
	h := requestID(recoverer(app))

	req := httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/orders", nil)
	req.Header.Set("X-Request-Id", "req-42")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("X-Request-Id"), rec.Header().Get("Content-Type"))
	fmt.Println(rec.Body.String())
	// Output:
	// 500 req-42 application/problem+json
	// {"type":"about:blank","title":"Internal Server Error","status":500}
}

// A second identical GET is served from the cache, until its tag is invalidated.
func ExampleCache() {
	cache, err := middleware.NewCache(middleware.CacheOptions{})
	if err != nil {
		panic(err)
	}
	defer func() { _ = cache.Close() }()
	runs := 0
	h := cache.Middleware()(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		runs++
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Cache-Tag", "product-7")
		_, _ = fmt.Fprintf(w, "product 7, run %d", runs)
	}))
	get := func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/products/7", nil))
		body, _ := io.ReadAll(rec.Body)
		fmt.Println(rec.Header().Get("X-Cache"), string(body))
	}
	get()
	get()
	cache.InvalidateTag("product-7")
	get()
	fmt.Printf("hits %d, misses %d\n", cache.Stats().Hits, cache.Stats().Misses)
	// Output:
	// MISS product 7, run 1
	// HIT product 7, run 1
	// MISS product 7, run 2
	// hits 1, misses 2
}

// The rate limit answers 429 with the seconds to wait once a client's burst is spent.
func ExampleRateLimit() {
	rl, err := middleware.NewRateLimit(middleware.RateLimitOptions{Rate: 0.2, Burst: 1}, nil)
	if err != nil {
		panic(err)
	}
	defer func() { _ = rl.Close() }()
	h := rl.Middleware()(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for range 2 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/", nil))
		fmt.Printf("%d Retry-After: %q\n", rec.Code, rec.Header().Get("Retry-After"))
	}
	// Output:
	// 200 Retry-After: ""
	// 429 Retry-After: "5"
}
