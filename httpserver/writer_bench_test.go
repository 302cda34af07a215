package httpserver

import (
	"net/http"
	"testing"

	"github.com/plykit/ply/internal/httpwriter/httpwritertest"
)

// BenchmarkResponseWriter measures the call's [ResponseWriter] (impl=ply)
// beside the server's writer it wraps (impl=bare): it may not allocate.
func BenchmarkResponseWriter(b *testing.B) {
	httpwritertest.Benchmark(b, httpwritertest.Impl{Name: "ply", New: func(w http.ResponseWriter) http.ResponseWriter {
		rw := new(ResponseWriter)
		rw.reset(w)
		return rw
	}})
}
