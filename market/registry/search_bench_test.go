package registry

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/plykit/ply/market"
	"github.com/plykit/ply/wasm/abi"
)

var words = []string{"auth", "jwt", "cache", "rate", "limit", "log", "trace", "metrics", "cors", "gzip", "proxy", "retry",
	"circuit", "breaker", "session", "cookie", "header", "tenant", "quota", "audit", "geo", "ip", "bot", "captcha",
	"redirect", "rewrite", "static", "upload", "image", "resize", "pdf", "mail", "sms", "webhook", "queue", "event",
	"schema", "validate", "graphql", "grpc", "openapi", "oauth", "saml", "ldap", "totp", "csrf", "waf", "acl", "policy", "opa"}

// fill publishes n synthetic plugins straight into the store, as
// publishing would, without compiling n modules.
func fill(ctx context.Context, tb testing.TB, s *Server, n int) {
	tb.Helper()
	token, err := s.AddPublisher(ctx, "bulk", "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3")
	if err != nil {
		tb.Fatal(err)
	}
	by, err := s.db.byToken(ctx, token)
	if err != nil {
		tb.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // G404: a reproducible corpus, not a secret
	pick := func(k int) string {
		var out string
		for range k {
			out += words[r.IntN(len(words))] + " "
		}
		return out
	}
	// A readme's words follow Zipf's law over a vocabulary of 5,000, the
	// plugin words among them, as prose does: common words in most readmes,
	// a given rare one in few.
	zipf := rand.NewZipf(rand.New(rand.NewPCG(5, 6)), 1.1, 2, 4999) //nolint:gosec // G404: a reproducible corpus, not a secret
	prose := func(k int) string {
		var out string
		for range k {
			if w := int(zipf.Uint64()); w < len(words) { //nolint:gosec // G115: at most 4999
				out += words[w] + " "
			} else {
				out += fmt.Sprint("w", w, " ")
			}
		}
		return out
	}
	for i := range n {
		name := fmt.Sprintf("%s-%s-%d", words[r.IntN(len(words))], words[r.IntN(len(words))], i)
		m := &abi.Manifest{ABI: 1, Name: name, Version: "1.0.0", Description: "a plugin for " + pick(6)}
		nv := newVersion{name: name, description: m.Description, readme: prose(300), v: market.Version{
			Version: "1.0.0", ABI: 1, SHA256: fmt.Sprintf("%064x", i), Size: 1, Signature: "-", Manifest: m, Published: time.Unix(0, 0)}}
		if err := s.db.publish(ctx, by, nv); err != nil {
			tb.Fatal(err)
		}
	}
}

// Search over 10,000 plugins through the JSON API (routing, FTS5 query,
// ranking, JSON encoding), one- and two-word queries of common and rare
// words, and words found in readmes only (from common to rare); reports
// the 50th and 99th percentile latency.
func BenchmarkSearch10k(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	fill(ctx, b, s, 10000)
	r := rand.New(rand.NewPCG(3, 4)) //nolint:gosec // G404: reproducible queries, not a secret
	queries := make([]string, 256)
	for i := range queries {
		q := words[r.IntN(len(words))]
		switch i % 3 {
		case 1:
			q += " " + words[r.IntN(len(words))]
		case 2: // a word of readmes only, common or rare: the second pass
			q = fmt.Sprint("w", 50+r.IntN(2000))
		}
		queries[i] = "/api/v1/search?q=" + url.QueryEscape(q)
	}
	var lat []time.Duration
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, queries[i%len(queries)], nil)
		w := httptest.NewRecorder()
		start := time.Now()
		s.ServeHTTP(w, req)
		lat = append(lat, time.Since(start))
		if w.Code != http.StatusOK {
			b.Fatalf("%s: %d %s", queries[i%len(queries)], w.Code, w.Body)
		}
		i++
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
