package middleware

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/plykit/ply/internal/httpwriter"
)

// recordedResponse is a response held in memory: written by a handler into a
// [recorder], replayed to clients by writeTo. It is immutable once recorded.
type recordedResponse struct {
	status int
	header http.Header
	body   []byte
}

// writeTo copies the response to w, adding its header to what w already has.
func (rr *recordedResponse) writeTo(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range rr.header {
		h[k] = append([]string(nil), v...)
	}
	w.WriteHeader(rr.status)
	_, _ = w.Write(rr.body)
}

// vary returns the names of the request headers listed in the response's Vary.
func (rr *recordedResponse) vary() []string {
	return headerNames(rr.header.Values("Vary"))
}

// size is the number of bytes the response holds: body, field names and values.
func (rr *recordedResponse) size() int64 {
	if rr == nil {
		return 0
	}
	n := int64(len(rr.body))
	for k, v := range rr.header {
		n += int64(len(k)) + 16 // the slice header of the values
		for _, s := range v {
			n += int64(len(s)) + 16
		}
	}
	return n
}

// recorder is a ResponseWriter that keeps the response in memory. Interim (1xx)
// responses go to the writer underneath at once; past limit body bytes, or at a
// final status that pass accepts, the response streams there and is no longer
// recorded. Its [httpwriter.Writer] keeps the status rules over a [recordSink],
// which keeps the response.
type recorder struct {
	httpwriter.Writer
	s recordSink
}

// recordSink is the writer under a recorder's Writer, and its gate.
type recordSink struct {
	header    http.Header
	body      bytes.Buffer
	under     http.ResponseWriter   // what the recorded response goes to
	limit     int64                 // the most body bytes recorded; 0 for no limit
	strip     string                // a header field removed before the response streams
	pass      func(status int) bool // a final status at which the response streams; nil for none
	status    int                   // the final status, once the Writer let it through
	passing   bool                  // pass accepted the status: the response streams at its first step
	streaming bool                  // writes go to under
}

var (
	_ httpwriter.Gate = (*recordSink)(nil)
	_ http.Hijacker   = (*recordSink)(nil)
	_ io.ReaderFrom   = (*recordSink)(nil)
)

// newRecorder returns a recorder whose response goes to under.
func newRecorder(under http.ResponseWriter) *recorder {
	rec := &recorder{s: recordSink{header: make(http.Header), under: under}}
	rec.Reset(&rec.s, &rec.s)
	return rec
}

// result returns what was recorded; the recorder must not be used afterwards.
func (rec *recorder) result() *recordedResponse {
	return &recordedResponse{status: cmp.Or(rec.s.status, http.StatusOK), header: rec.s.header, body: rec.s.body.Bytes()}
}

// Open notes the final status, and whether pass accepts it, before it goes
// through.
func (s *recordSink) Open(code int) error {
	if informational(code) {
		return nil
	}
	s.status = code
	s.passing = s.pass != nil && s.pass(code)
	return nil
}

// informational reports whether code is sent ahead of the final status, as
// net/http sends every 1xx but 101.
func informational(code int) bool {
	return code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols
}

func (s *recordSink) Header() http.Header { return s.header }

func (s *recordSink) WriteHeader(code int) {
	switch {
	case s.streaming: // after the final status: net/http's to report
		s.under.WriteHeader(code)
	case s.passing: // the final status, which pass accepted
		s.stream()
	case informational(code) && code != http.StatusContinue && s.status == 0:
		s.interim(code) // 100 Continue answers the client's Expect, which net/http does itself
	}
}

func (s *recordSink) Write(p []byte) (int, error) {
	if !s.streaming {
		if !s.passing && (s.limit <= 0 || int64(s.body.Len()+len(p)) <= s.limit) {
			return s.body.Write(p)
		}
		s.stream()
	}
	return s.under.Write(p)
}

// ReadFrom records what src holds, up to the limit, and copies the rest to
// the writer underneath once the response streams: as Write, without io.Copy's
// buffer.
func (s *recordSink) ReadFrom(src io.Reader) (int64, error) {
	if s.passing && !s.streaming {
		s.stream()
	}
	var n int64
	if !s.streaming {
		if s.limit <= 0 {
			return s.body.ReadFrom(src)
		}
		var err error
		n, err = s.body.ReadFrom(&io.LimitedReader{R: src, N: s.limit - int64(s.body.Len()) + 1})
		if err != nil || int64(s.body.Len()) <= s.limit {
			return n, err
		}
		s.stream() // past the limit: what is recorded goes out, the rest follows
	}
	m, err := io.Copy(s.under, src)
	return n + m, err
}

// FlushError does nothing while the response is recorded, and flushes the
// writer underneath once it streams.
func (s *recordSink) FlushError() error {
	if s.passing && !s.streaming {
		s.stream()
	}
	if s.streaming {
		return http.NewResponseController(s.under).Flush()
	}
	return nil
}

// Hijack refuses while the response is recorded (a retry may run the handler
// again; a cache may serve the response to others), and hijacks the writer
// underneath once the response streams.
func (s *recordSink) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !s.streaming {
		return nil, nil, fmt.Errorf("%w: the response is being recorded", http.ErrNotSupported)
	}
	return http.NewResponseController(s.under).Hijack()
}

// Unwrap returns the writer the recorded response goes to, so code under the
// recorder (a ply chain, http.ResponseController) can reach it; the sink's own
// Flush and Hijack keep the record a record.
func (s *recordSink) Unwrap() http.ResponseWriter { return s.under }

// interim sends a 1xx response with the header fields set so far to the writer
// underneath, leaving that writer's own fields as they were.
func (s *recordSink) interim(code int) {
	h := s.under.Header()
	saved := h.Clone()
	for k, v := range s.header {
		h[k] = v
	}
	s.under.WriteHeader(code)
	clear(h)
	for k, v := range saved {
		h[k] = v
	}
}

// stream sends what was recorded to the writer underneath; later writes follow.
func (s *recordSink) stream() {
	s.streaming = true
	s.header.Del(s.strip)
	h := s.under.Header()
	for k, v := range s.header {
		h[k] = v
	}
	s.under.WriteHeader(cmp.Or(s.status, http.StatusOK))
	if s.body.Len() > 0 {
		_, _ = s.under.Write(s.body.Bytes())
	}
	s.body = bytes.Buffer{}
}

// WriteProblem writes status with an RFC 9457 application/problem+json body
// whose detail is detail (left out when empty): the error format of every
// stock layer, for plugins that answer alongside them.
func WriteProblem(w http.ResponseWriter, status int, detail string) {
	httpwriter.WriteProblem(w, status, http.StatusText(status), detail)
}

// retryAfter formats a wait as whole seconds for a Retry-After header, rounding up
// and never below 1.
func retryAfter(seconds float64) string {
	s := int64(seconds)
	if float64(s) < seconds {
		s++
	}
	return strconv.FormatInt(max(s, 1), 10)
}
