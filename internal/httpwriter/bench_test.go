package httpwriter_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/plykit/ply/internal/httpwriter"
)

// nopWriter is a ResponseWriter that costs nothing, so that the benchmark
// measures the wrapper.
type nopWriter struct{ h http.Header }

func (w nopWriter) Header() http.Header               { return w.h }
func (nopWriter) Write(p []byte) (int, error)         { return len(p), nil }
func (nopWriter) WriteHeader(int)                     {}
func (nopWriter) FlushError() error                   { return nil }
func (nopWriter) ReadFrom(r io.Reader) (int64, error) { return io.Copy(io.Discard, r) }

type openGate struct{}

func (openGate) Open(int) error { return nil }

// BenchmarkWriter measures one write through a Writer whose status went out
// already (impl=writer, impl=gated with a gate), beside the same write on the
// writer underneath (impl=bare), the baseline. Each must stay at 0 allocations.
func BenchmarkWriter(b *testing.B) {
	p := []byte("hello, world")
	src := strings.NewReader("")
	ops := []struct {
		name string
		do   func(w http.ResponseWriter)
	}{
		{"Write", func(w http.ResponseWriter) { _, _ = w.Write(p) }},
		{"WriteHeader", func(w http.ResponseWriter) { w.WriteHeader(http.StatusOK) }},
		{"Flush", func(w http.ResponseWriter) { _ = http.NewResponseController(w).Flush() }},
		{"ReadFrom", func(w http.ResponseWriter) { src.Reset("hello, world"); _, _ = w.(io.ReaderFrom).ReadFrom(src) }},
	}
	under := nopWriter{h: http.Header{}}
	for _, op := range ops {
		for _, impl := range []struct {
			name string
			w    http.ResponseWriter
		}{
			{"bare", under},
			{"writer", httpwriter.New(under, nil)},
			{"gated", httpwriter.New(under, openGate{})},
		} {
			b.Run("op="+op.name+"/impl="+impl.name, func(b *testing.B) {
				impl.w.WriteHeader(http.StatusOK)
				b.ReportAllocs()
				for b.Loop() {
					op.do(impl.w)
				}
			})
		}
	}
}
