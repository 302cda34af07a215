package middleware

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
)

var (
	_ http.Flusher                              = (*statusWriter)(nil)
	_ http.Hijacker                             = (*statusWriter)(nil)
	_ interface{ Unwrap() http.ResponseWriter } = (*statusWriter)(nil)
)

// statusWriter records the status and the number of body bytes written through it.
// It keeps [http.ResponseController] working (Unwrap) and passes Flush and Hijack
// through to the writer it wraps.
type statusWriter struct {
	http.ResponseWriter
	status int   // 0 until WriteHeader or the first Write
	bytes  int64 // body bytes written
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 { // 1xx are informational: the final status follows
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Status returns the status written, or 200 if the handler wrote nothing (as
// net/http sends then).
func (w *statusWriter) Status() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// Unwrap lets [http.ResponseController] reach the writer underneath.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush implements [http.Flusher].
func (w *statusWriter) Flush() { _ = w.FlushError() }

// FlushError flushes the writer underneath, as [http.ResponseController.Flush].
func (w *statusWriter) FlushError() error {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack implements [http.Hijacker] when the writer underneath supports it.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

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
// responses go to the writer underneath at once; past limit body bytes, the
// response streams there and is no longer recorded.
type recorder struct {
	header      http.Header
	status      int
	body        bytes.Buffer
	wroteHeader bool
	under       http.ResponseWriter // what the recorded response goes to, if known
	limit       int64               // the most body bytes recorded; 0 for no limit
	strip       string              // a header field removed before the response streams
	streaming   bool                // past the limit: writes go to under
}

// Unwrap returns the writer the recorded response goes to, so code under
// the recorder (a ply chain, http.ResponseController) can reach it; the
// recorder's own Flush keeps the buffer a buffer.
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.under }

// FlushError does nothing while the response is buffered, and flushes the writer
// underneath once it streams.
func (rec *recorder) FlushError() error {
	if rec.streaming {
		return http.NewResponseController(rec.under).Flush()
	}
	return nil
}

// Flush implements [http.Flusher].
func (rec *recorder) Flush() { _ = rec.FlushError() }

func newRecorder() *recorder { return &recorder{header: make(http.Header)} }

func (rec *recorder) Header() http.Header { return rec.header }

func (rec *recorder) WriteHeader(code int) {
	if code >= 102 && code < 200 && !rec.wroteHeader && rec.under != nil {
		rec.interim(code)
		return
	}
	if rec.wroteHeader || code < 200 {
		return
	}
	rec.status, rec.wroteHeader = code, true
}

// interim sends a 1xx response with the header fields set so far to the writer
// underneath, leaving that writer's own fields as they were.
func (rec *recorder) interim(code int) {
	h := rec.under.Header()
	saved := h.Clone()
	for k, v := range rec.header {
		h[k] = v
	}
	rec.under.WriteHeader(code)
	clear(h)
	for k, v := range saved {
		h[k] = v
	}
}

func (rec *recorder) Write(p []byte) (int, error) {
	if !rec.wroteHeader {
		rec.WriteHeader(http.StatusOK)
	}
	if rec.streaming {
		return rec.under.Write(p)
	}
	if rec.limit > 0 && rec.under != nil && int64(rec.body.Len()+len(p)) > rec.limit {
		rec.stream()
		return rec.under.Write(p)
	}
	return rec.body.Write(p)
}

// stream sends what was recorded to the writer underneath; later writes follow.
func (rec *recorder) stream() {
	rec.streaming = true
	rec.header.Del(rec.strip)
	h := rec.under.Header()
	for k, v := range rec.header {
		h[k] = v
	}
	rec.under.WriteHeader(rec.status)
	_, _ = rec.under.Write(rec.body.Bytes())
	rec.body = bytes.Buffer{}
}

// result returns what was recorded; the recorder must not be used afterwards.
func (rec *recorder) result() *recordedResponse {
	if !rec.wroteHeader {
		rec.status = http.StatusOK
	}
	return &recordedResponse{status: rec.status, header: rec.header, body: rec.body.Bytes()}
}

// problem is an RFC 9457 problem details body.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// WriteProblem writes status with an RFC 9457 application/problem+json body
// whose detail is detail (left out when empty): the error format of every
// stock layer, for plugins that answer alongside them.
func WriteProblem(w http.ResponseWriter, status int, detail string) {
	body, _ := json.Marshal(problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail})
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
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
