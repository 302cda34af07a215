package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/justinas/alice"
	"github.com/plykit/ply"
)

// count is the trivial work of every layer in every implementation, so
// that what differs is only the cost of composing and calling layers.
var count int

// depths are the chain depths of the comparison (DESIGN §11: 1–20).
var depths = []int{1, 2, 5, 10, 20}

// closures composes depth layers by hand, without ply: the floor.
func closures(depth int) func(ctx context.Context, req any) error {
	h := func(context.Context, any) error { count++; return nil }
	for range depth {
		next := h
		h = func(ctx context.Context, req any) error { count++; return next(ctx, req) }
	}
	return h
}

// countMW is a counting net/http middleware, as alice and chi compose.
func countMW(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { count++; next.ServeHTTP(w, r) })
}

var endpoint = http.HandlerFunc(func(http.ResponseWriter, *http.Request) { count++ })

func aliceChain(depth int) http.Handler {
	c := alice.New()
	for range depth {
		c = c.Append(countMW)
	}
	return c.Then(endpoint)
}

func chiChain(depth int) http.Handler {
	mws := make(chi.Middlewares, depth)
	for i := range mws {
		mws[i] = countMW
	}
	return mws.Handler(endpoint)
}

// plyChain builds a host of depth plugins, each wrapping every handler with
// a counting layer, starts it and returns the handler's chain: what a user
// holds after [ply.Host.Start].
func plyChain(b *testing.B, depth int) *ply.Chain {
	b.Helper()
	layer := func(ctx context.Context, _ *ply.Call, next ply.Next) error { count++; return next.Run(ctx) }
	ps := make([]ply.Plugin, depth)
	for i := range ps {
		ps[i] = ply.Func{
			Meta: ply.Info{Name: fmt.Sprintf("l%02d", i), Version: "1.0.0", Priority: ply.Business + i},
			OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
				return ply.Wrap{Layer: layer}, nil
			},
		}
	}
	h, err := ply.New(ps, ply.WithModules(ply.Module{Name: "m", Handlers: []ply.Handler{{
		Kind: ply.KindRPC, Name: "h", Func: func(context.Context, *ply.Call) error { count++; return nil },
	}}}))
	if err != nil {
		b.Fatal(err)
	}
	if err := h.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = h.Stop(context.Background()) })
	ch, err := h.Chain("m", "h")
	if err != nil {
		b.Fatal(err)
	}
	return ch
}

// BenchmarkChain calls a chain of depth counting layers and a counting
// handler the way each library's user calls it: closures composed by hand,
// alice and chi serving a prepared request, and ply's Chain.Serve with all
// its guarantees (one recover per call, the pooled call and request bag,
// the snapshot, after-hooks). ply's fixed cost per call is on ply's side
// of every ratio only.
func BenchmarkChain(b *testing.B) {
	ctx := context.Background()
	r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
	w := httptest.NewRecorder()
	for _, depth := range depths {
		b.Run(fmt.Sprintf("impl=closure/depth=%d", depth), func(b *testing.B) {
			h := closures(depth)
			b.ReportAllocs()
			for b.Loop() {
				_ = h(ctx, r)
			}
		})
		for _, peer := range []struct {
			name string
			h    http.Handler
		}{{"alice", aliceChain(depth)}, {"chi", chiChain(depth)}} {
			b.Run(fmt.Sprintf("impl=%s/depth=%d", peer.name, depth), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					peer.h.ServeHTTP(w, r)
				}
			})
		}
		b.Run(fmt.Sprintf("impl=ply/depth=%d", depth), func(b *testing.B) {
			ch := plyChain(b, depth)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ch.Serve(ctx, r, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
