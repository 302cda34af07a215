package httpwriter_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/plykit/ply/internal/httpwriter"
	"github.com/plykit/ply/internal/httpwriter/httpwritertest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// served is what a request through a real net/http server shows: the Writer's
// records on the server side, and the response on the client side.
type served struct {
	Status  int   // Writer.Status after the handler returned
	Written int64 // Writer.Written after the handler returned
	Code    int   // the final status the client received
	Body    string
	Interim []string // the 1xx responses the client received: "103 " and the Link field
}

// serve runs handle behind a real net/http server, its writer wrapped in a
// Writer consulting g, and returns what the server and the client saw.
func serve(t *testing.T, g httpwriter.Gate, handle func(w *httpwriter.Writer) error) served {
	t.Helper()
	records := make(chan served, 1) // the handler reports once, before the client reads it
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		w := httpwriter.New(rw, g)
		if err := handle(w); err != nil {
			t.Errorf("handler: %v", err)
		}
		records <- served{Status: w.Status(), Written: w.Written()}
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // "superfluous WriteHeader" is expected of some rows
	srv.Start()
	t.Cleanup(srv.Close)
	res := httpwritertest.Get(t, srv.Client(), srv.URL)
	got := <-records
	got.Code, got.Body, got.Interim = res.Code, res.Body, res.Interim
	return got
}

// write writes each of ss to w, and returns an error unless every write
// succeeds whole.
func write(w io.Writer, ss ...string) error {
	for _, s := range ss {
		if n, err := io.WriteString(w, s); n != len(s) || err != nil {
			return fmt.Errorf("Write(%q) = %d, want %d: %w", s, n, len(s), err)
		}
	}
	return nil
}

// TestWriterServed checks the rules of the package documentation against a real
// net/http server, the writer the Writer wraps in production.
func TestWriterServed(t *testing.T) {
	long := strings.Repeat("x", 64<<10) // past net/http's sniffing, so ReadFrom reaches the connection
	for _, tt := range []struct {
		name   string
		handle func(w *httpwriter.Writer) error
		want   served
	}{
		{
			name:   "nothing written: no status recorded, net/http sends 200",
			handle: func(*httpwriter.Writer) error { return nil },
			want:   served{Status: 0, Code: http.StatusOK},
		},
		{
			name:   "the first Write implies 200 and the bytes are counted",
			handle: func(w *httpwriter.Writer) error { return write(w, "hello", ", world") },
			want:   served{Status: http.StatusOK, Written: 12, Code: http.StatusOK, Body: "hello, world"},
		},
		{
			name: "WriteHeader then Write",
			handle: func(w *httpwriter.Writer) error {
				w.WriteHeader(http.StatusCreated)
				return write(w, "made")
			},
			want: served{Status: http.StatusCreated, Written: 4, Code: http.StatusCreated, Body: "made"},
		},
		{
			name: "the first final status wins; a later one is net/http's to report",
			handle: func(w *httpwriter.Writer) error {
				w.WriteHeader(http.StatusAccepted)
				w.WriteHeader(http.StatusInternalServerError)
				return write(w, "ok")
			},
			want: served{Status: http.StatusAccepted, Written: 2, Code: http.StatusAccepted, Body: "ok"},
		},
		{
			name: "a Write's implied 200 is final: a later WriteHeader does not change it",
			handle: func(w *httpwriter.Writer) error {
				err := write(w, "ok")
				w.WriteHeader(http.StatusNotFound)
				return err
			},
			want: served{Status: http.StatusOK, Written: 2, Code: http.StatusOK, Body: "ok"},
		},
		{
			name: "1xx go out with the header fields set so far and are not the status",
			handle: func(w *httpwriter.Writer) error {
				w.Header().Set("Link", "</a.css>; rel=preload")
				w.WriteHeader(http.StatusEarlyHints)
				w.Header().Set("Link", "</b.css>; rel=preload")
				w.WriteHeader(http.StatusEarlyHints)
				w.WriteHeader(http.StatusNoContent)
				return nil
			},
			want: served{Status: http.StatusNoContent, Code: http.StatusNoContent, Interim: []string{
				"103 </a.css>; rel=preload",
				"103 </b.css>; rel=preload",
			}},
		},
		{
			name: "Flush through http.ResponseController implies 200 and sends it",
			handle: func(w *httpwriter.Writer) error {
				return errors.Join(write(w, "a"), http.NewResponseController(w).Flush(), write(w, "b"))
			},
			want: served{Status: http.StatusOK, Written: 2, Code: http.StatusOK, Body: "ab"},
		},
		{
			name: "Flush before any write",
			handle: func(w *httpwriter.Writer) error {
				w.Flush()
				return write(w, "late")
			},
			want: served{Status: http.StatusOK, Written: 4, Code: http.StatusOK, Body: "late"},
		},
		{
			name: "io.Copy uses ReadFrom, counted",
			handle: func(w *httpwriter.Writer) error {
				w.WriteHeader(http.StatusPartialContent)
				if n, err := io.Copy(w, strings.NewReader(long)); n != int64(len(long)) || err != nil {
					return fmt.Errorf("io.Copy = %d, want %d: %w", n, len(long), err)
				}
				return nil
			},
			want: served{Status: http.StatusPartialContent, Written: int64(len(long)), Code: http.StatusPartialContent, Body: long},
		},
		{
			name: "Hijack through http.ResponseController reaches the connection",
			handle: func(w *httpwriter.Writer) error {
				conn, buf, err := http.NewResponseController(w).Hijack()
				if err != nil {
					return err
				}
				defer func() { _ = conn.Close() }()
				_, _ = buf.WriteString("HTTP/1.1 418 I'm a teapot\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
				return buf.Flush()
			},
			want: served{Status: 0, Code: http.StatusTeapot, Body: "hijacked"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := serve(t, nil, tt.handle)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("served (-want +got):\n%s", diff)
			}
		})
	}
}

// plain is an http.ResponseWriter with none of the optional methods: no
// Flush, Hijack, ReadFrom or Unwrap.
type plain struct{ rec *httptest.ResponseRecorder }

func (p plain) Header() http.Header         { return p.rec.Header() }
func (p plain) Write(b []byte) (int, error) { return p.rec.Write(b) }
func (p plain) WriteHeader(code int)        { p.rec.WriteHeader(code) }

// TestWriterOverPlain checks what a Writer does over a writer that lacks the
// optional methods.
func TestWriterOverPlain(t *testing.T) {
	for _, tt := range []struct {
		name       string
		do         func(w *httpwriter.Writer) error
		wantErr    error
		wantStatus int
		wantBody   string
	}{
		{
			name:    "Hijack is refused with http.ErrNotSupported",
			do:      func(w *httpwriter.Writer) error { _, _, err := w.Hijack(); return err },
			wantErr: http.ErrNotSupported,
		},
		{
			name:       "Flush is refused with http.ErrNotSupported, and the status is known",
			do:         func(w *httpwriter.Writer) error { return http.NewResponseController(w).Flush() },
			wantErr:    http.ErrNotSupported,
			wantStatus: http.StatusOK,
		},
		{
			name: "ReadFrom falls back to Write",
			do: func(w *httpwriter.Writer) error {
				n, err := w.ReadFrom(strings.NewReader("copied"))
				if n != 6 {
					return errors.New("short copy")
				}
				return err
			},
			wantStatus: http.StatusOK, wantBody: "copied",
		},
		{
			name:       "101 Switching Protocols is final, as net/http treats it",
			do:         func(w *httpwriter.Writer) error { w.WriteHeader(http.StatusSwitchingProtocols); return nil },
			wantStatus: http.StatusSwitchingProtocols,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			w := httpwriter.New(plain{rec}, nil)
			if err := tt.do(w); !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if got := w.Status(); got != tt.wantStatus {
				t.Errorf("Status() = %d, want %d", got, tt.wantStatus)
			}
			if got := rec.Body.String(); got != tt.wantBody {
				t.Errorf("body = %q, want %q", got, tt.wantBody)
			}
			if got := w.Written(); got != int64(len(tt.wantBody)) {
				t.Errorf("Written() = %d, want %d", got, len(tt.wantBody))
			}
		})
	}
}

// gate records the statuses it is asked about and refuses them while err is set.
type gate struct {
	asked []int
	err   error
}

func (g *gate) Open(code int) error {
	g.asked = append(g.asked, code)
	return g.err
}

var errClosed = errors.New("closed")

// TestGate checks which statuses a gate sees, and what a refusal does to each
// method, behind a real net/http server.
func TestGate(t *testing.T) {
	refused := func(err error) error {
		if !errors.Is(err, errClosed) {
			return fmt.Errorf("want errClosed, got: %w", err)
		}
		return nil
	}
	for _, tt := range []struct {
		name      string
		refuse    bool
		handle    func(w *httpwriter.Writer) error
		wantAsked []int
		want      served
	}{
		{
			name: "sees each 1xx and the final status, then no more",
			handle: func(w *httpwriter.Writer) error {
				w.WriteHeader(http.StatusEarlyHints)
				w.WriteHeader(http.StatusCreated)
				err := write(w, "x")
				w.Flush()
				return err
			},
			wantAsked: []int{http.StatusEarlyHints, http.StatusCreated},
			want: served{Status: http.StatusCreated, Written: 1, Code: http.StatusCreated, Body: "x",
				Interim: []string{"103 "}},
		},
		{
			name:      "sees the 200 a Write implies",
			handle:    func(w *httpwriter.Writer) error { return write(w, "x") },
			wantAsked: []int{http.StatusOK},
			want:      served{Status: http.StatusOK, Written: 1, Code: http.StatusOK, Body: "x"},
		},
		{
			name:   "a refused status is dropped, and the gate asked again at the next call",
			refuse: true,
			handle: func(w *httpwriter.Writer) error {
				w.WriteHeader(http.StatusEarlyHints)
				w.WriteHeader(http.StatusCreated)
				_, err := w.Write([]byte("x"))
				return refused(err)
			},
			wantAsked: []int{http.StatusEarlyHints, http.StatusCreated, http.StatusOK},
			want:      served{Code: http.StatusOK}, // net/http's, for a handler that wrote nothing
		},
		{
			name:   "a refused ReadFrom reads nothing",
			refuse: true,
			handle: func(w *httpwriter.Writer) error {
				src := strings.NewReader("x")
				_, err := w.ReadFrom(src)
				if src.Len() != 1 {
					return fmt.Errorf("ReadFrom read %d bytes", 1-src.Len())
				}
				return refused(err)
			},
			wantAsked: []int{http.StatusOK},
			want:      served{Code: http.StatusOK},
		},
		{
			name:   "a refused Flush sends nothing",
			refuse: true,
			handle: func(w *httpwriter.Writer) error {
				return refused(http.NewResponseController(w).Flush())
			},
			wantAsked: []int{http.StatusOK},
			want:      served{Code: http.StatusOK},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := &gate{}
			if tt.refuse {
				g.err = errClosed
			}
			got := serve(t, g, tt.handle)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("served (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantAsked, g.asked); diff != "" {
				t.Errorf("statuses asked (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReset checks that Reset forgets the previous response, as a pool needs.
func TestReset(t *testing.T) {
	w := httpwriter.New(httptest.NewRecorder(), nil)
	if err := write(w, "first"); err != nil {
		t.Fatal(err)
	}
	second := httptest.NewRecorder()
	w.Reset(second, nil)
	if w.Status() != 0 || w.Written() != 0 || w.Unwrap() != second {
		t.Fatalf("after Reset: Status %d, Written %d, Unwrap %p; want 0, 0, %p", w.Status(), w.Written(), w.Unwrap(), second)
	}
	w.WriteHeader(http.StatusTeapot)
	if second.Code != http.StatusTeapot {
		t.Errorf("the new writer got %d, want %d", second.Code, http.StatusTeapot)
	}
}
