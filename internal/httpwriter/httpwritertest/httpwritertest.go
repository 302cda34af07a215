// Package httpwritertest holds what the tests and benchmarks of ply's
// http.ResponseWriter wrappers share: a client that records interim
// responses, a writer that costs nothing, and one benchmark of the
// operations that must not allocate.
package httpwritertest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"testing"
)

// Response is what a client received.
type Response struct {
	Code    int
	Body    string
	Interim []string // each 1xx received, in order: "103 " and its Link field
}

// Get sends a GET to url with client and returns the response, its
// interim responses included; it fails t if the request fails.
func Get(t testing.TB, client *http.Client, url string) Response {
	t.Helper()
	var mu sync.Mutex // the transport may report 1xx from its own goroutine
	var got Response
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		mu.Lock()
		defer mu.Unlock()
		got.Interim = append(got.Interim, fmt.Sprint(code, " ", h.Get("Link")))
		return nil
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	got.Code, got.Body = res.StatusCode, string(body)
	return got
}

// Discard is an http.ResponseWriter that costs nothing, with the FlushError
// and ReadFrom of net/http's own, so that a benchmark measures the wrappers
// around it.
type Discard struct{ H http.Header }

// Header returns d.H.
func (d Discard) Header() http.Header { return d.H }

// Write discards p.
func (Discard) Write(p []byte) (int, error) { return len(p), nil }

// WriteHeader does nothing.
func (Discard) WriteHeader(int) {}

// FlushError does nothing.
func (Discard) FlushError() error { return nil }

// ReadFrom reads r to its end, as io.Discard does, without allocating.
func (Discard) ReadFrom(r io.Reader) (int64, error) { return io.Copy(io.Discard, r) }

// An Impl is a wrapper under measure: New wraps the writer given.
type Impl struct {
	Name string
	New  func(under http.ResponseWriter) http.ResponseWriter
}

// Benchmark measures one Write, one Flush (through http.ResponseController)
// and one io.Copy from a reader without WriteTo through each wrapper, once
// the response's status went out, beside the same operation on a [Discard]
// (impl=bare), the baseline. Each runs as op=NAME/impl=NAME with its
// allocations reported.
func Benchmark(b *testing.B, impls ...Impl) {
	b.Helper()
	p := []byte("hello, world")
	src := strings.NewReader("")
	from := io.Reader(struct{ io.Reader }{src}) // no WriteTo: io.Copy needs the writer's ReadFrom, or a buffer
	ops := []struct {
		name string
		do   func(w http.ResponseWriter)
	}{
		{"Write", func(w http.ResponseWriter) { _, _ = w.Write(p) }},
		{"Flush", func(w http.ResponseWriter) { _ = http.NewResponseController(w).Flush() }},
		{"Copy", func(w http.ResponseWriter) { src.Reset("hello, world"); _, _ = io.Copy(w, from) }},
	}
	impls = append([]Impl{{Name: "bare", New: func(w http.ResponseWriter) http.ResponseWriter { return w }}}, impls...)
	for _, op := range ops {
		for _, impl := range impls {
			b.Run("op="+op.name+"/impl="+impl.Name, func(b *testing.B) {
				w := impl.New(Discard{H: http.Header{}})
				_, _ = w.Write(p) // the status goes out; what follows is steady state
				b.ReportAllocs()
				for b.Loop() {
					op.do(w)
				}
			})
		}
	}
}
