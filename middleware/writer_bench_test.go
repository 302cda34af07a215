package middleware

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/plykit/ply/internal/httpwriter"
	"github.com/plykit/ply/internal/httpwriter/httpwritertest"
)

// BenchmarkWrappedWrite measures each of the layers' writers once its response
// streams to the writer underneath, beside that writer (impl=bare): none may
// allocate.
func BenchmarkWrappedWrite(b *testing.B) {
	cache, err := NewCache(CacheOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cache.Close() }()
	r := httptest.NewRequestWithContext(b.Context(), http.MethodPost, "/items", nil)
	httpwritertest.Benchmark(b,
		httpwritertest.Impl{Name: "status", New: func(w http.ResponseWriter) http.ResponseWriter { return httpwriter.New(w, nil) }},
		httpwritertest.Impl{Name: "timeout", New: func(w http.ResponseWriter) http.ResponseWriter {
			tw := &timeoutWriter{deadline: time.Now().Add(time.Hour)}
			tw.Reset(w, tw)
			return tw
		}},
		httpwritertest.Impl{Name: "invalidating", New: func(w http.ResponseWriter) http.ResponseWriter {
			iw := &invalidatingWriter{c: cache, r: r}
			iw.Reset(w, iw)
			return iw
		}},
		httpwritertest.Impl{Name: "recorder", New: func(w http.ResponseWriter) http.ResponseWriter { // past its limit: streaming
			rec := newRecorder(w)
			rec.s.limit = 1
			return rec
		}},
		httpwritertest.Impl{Name: "attempt", New: func(w http.ResponseWriter) http.ResponseWriter { // a status not retried: streaming
			rec := newRecorder(w)
			rec.s.pass = func(int) bool { return true }
			return rec
		}},
	)
}
