package httpwriter_test

import (
	"net/http"
	"testing"

	"github.com/plykit/ply/internal/httpwriter"
	"github.com/plykit/ply/internal/httpwriter/httpwritertest"
)

type openGate struct{}

func (openGate) Open(int) error { return nil }

// BenchmarkWriter measures a Writer (impl=writer) and a Writer with a gate
// (impl=gated) beside the writer they wrap: none may allocate.
func BenchmarkWriter(b *testing.B) {
	httpwritertest.Benchmark(b,
		httpwritertest.Impl{Name: "writer", New: func(w http.ResponseWriter) http.ResponseWriter { return httpwriter.New(w, nil) }},
		httpwritertest.Impl{Name: "gated", New: func(w http.ResponseWriter) http.ResponseWriter { return httpwriter.New(w, openGate{}) }},
	)
}
