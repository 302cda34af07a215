// Package httpwriter provides [Writer], the one http.ResponseWriter wrapper that
// ply's HTTP server and its stock net/http middleware build on.
//
// # What a Writer keeps
//
// A [Writer] passes a response through to the writer it wraps and records its
// final status and the body bytes written, by the rules net/http follows:
//
//   - the final status is the first status of 200 or more, or 101 (Switching
//     Protocols), written with WriteHeader, or else 200 at the first Write,
//     ReadFrom or Flush;
//   - an informational status (100, 102, 103…) goes through without being
//     recorded: the final status follows it, and the header fields set so far go
//     with it;
//   - a status written after the final one goes through to the writer underneath,
//     which reports it as net/http does ("superfluous WriteHeader"), and is not
//     recorded.
//
// # What a Writer passes on
//
// It implements [http.Flusher] (and FlushError), [http.Hijacker] and
// [io.ReaderFrom], and it unwraps (Unwrap() http.ResponseWriter) to the writer it
// wraps, so that [http.ResponseController] reaches that writer's deadlines and full
// duplex, and so that a type assertion for Flusher or Hijacker on a wrapped
// writer finds it. Flush and Hijack reach the writer underneath through an
// http.ResponseController, following its own Unwrap chain; where it supports
// neither, they return an error matching [http.ErrNotSupported].
//
// # Gates
//
// A layer that must act on a status before it goes out (a cache that invalidates
// what an update makes stale) or refuse it (a request past its deadline) gives the
// Writer a [Gate], usually the layer's own writer type, which embeds the Writer.
// A Writer consults its gate from one place, so a method added to Writer cannot
// slip past it.
package httpwriter

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// A Gate sees each status before it goes to the writer underneath a [Writer]:
// every informational one and the final one, written with WriteHeader or implied
// (200) by the first Write, ReadFrom or Flush. It is not consulted once the final
// status went through.
type Gate interface {
	// Open is called with the status about to go out. An error keeps it back:
	// WriteHeader drops the status, and Write, ReadFrom and Flush return the error
	// without writing; the Writer consults the gate again at the next call.
	Open(code int) error
}

var (
	_ http.Flusher                              = (*Writer)(nil)
	_ http.Hijacker                             = (*Writer)(nil)
	_ io.ReaderFrom                             = (*Writer)(nil)
	_ interface{ FlushError() error }           = (*Writer)(nil)
	_ interface{ Unwrap() http.ResponseWriter } = (*Writer)(nil)
)

// Writer wraps an http.ResponseWriter, recording the final status and the body
// bytes written (see the package documentation for the rules). The zero value
// wraps nothing: [Writer.Reset] it, or make one with [New]. Like any
// http.ResponseWriter it is not safe for concurrent use.
type Writer struct {
	w      http.ResponseWriter
	gate   Gate
	status int   // the final status; 0 until it went through
	bytes  int64 // body bytes written
}

// New returns a Writer wrapping w, consulting g (which may be nil).
func New(w http.ResponseWriter, g Gate) *Writer {
	return &Writer{w: w, gate: g}
}

// Reset makes the Writer wrap w, consulting g (which may be nil), as a new one:
// for a Writer embedded in a layer's own type, or kept in a pool.
func (w *Writer) Reset(under http.ResponseWriter, g Gate) {
	*w = Writer{w: under, gate: g}
}

// Status returns the final status written so far, or 0 if none went through.
func (w *Writer) Status() int { return w.status }

// Written returns the number of body bytes written through Write and ReadFrom.
func (w *Writer) Written() int64 { return w.bytes }

// Unwrap returns the writer underneath, for [http.ResponseController].
func (w *Writer) Unwrap() http.ResponseWriter { return w.w }

// Header returns the header of the writer underneath.
func (w *Writer) Header() http.Header { return w.w.Header() }

// open lets code go out, if the gate allows it, and records it when it is the
// final status. Its callers skip it once the final status went through, so
// that, on the hot path, it costs them a comparison.
func (w *Writer) open(code int) error {
	if w.gate != nil {
		if err := w.gate.Open(code); err != nil {
			return err
		}
	}
	if final(code) {
		w.status = code
	}
	return nil
}

// final reports whether code ends the status line of a response: net/http sends
// 1xx other than 101 as interim responses, and everything else as the final one.
func final(code int) bool {
	return code < 100 || code > 199 || code == http.StatusSwitchingProtocols
}

// WriteHeader passes code on, unless the gate keeps it back.
func (w *Writer) WriteHeader(code int) {
	if w.status == 0 && w.open(code) != nil {
		return
	}
	w.w.WriteHeader(code)
}

// Write passes p on, counting the bytes written, after the final status (200
// unless one was written).
func (w *Writer) Write(p []byte) (int, error) {
	if w.status == 0 {
		if err := w.open(http.StatusOK); err != nil {
			return 0, err
		}
	}
	n, err := w.w.Write(p)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom copies src to the response, counting the bytes, with the writer
// underneath's own ReadFrom (sendfile for a net/http connection) when it has one.
func (w *Writer) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		if err := w.open(http.StatusOK); err != nil {
			return 0, err
		}
	}
	if rf, ok := w.w.(io.ReaderFrom); ok {
		n, err := rf.ReadFrom(src)
		w.bytes += n
		return n, err
	}
	return io.Copy((*writeOnly)(w), src) // Write counts the bytes
}

// writeOnly is a Writer without ReadFrom, so that io.Copy writes with Write;
// as a pointer, it converts to an io.Writer without allocating.
type writeOnly Writer

func (w *writeOnly) Write(p []byte) (int, error) { return (*Writer)(w).Write(p) }

// Flush implements [http.Flusher]; use FlushError, or an
// http.ResponseController, to learn whether it failed.
func (w *Writer) Flush() { _ = w.FlushError() }

// FlushError sends the header, with the final status (200 unless one was
// written), and the body written so far to the client.
func (w *Writer) FlushError() error {
	if w.status == 0 {
		if err := w.open(http.StatusOK); err != nil {
			return err
		}
	}
	return http.NewResponseController(w.w).Flush()
}

// Hijack implements [http.Hijacker] with the writer underneath's Hijack.
func (w *Writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.w).Hijack()
}
