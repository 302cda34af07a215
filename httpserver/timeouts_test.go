package httpserver_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/plytest"
)

// timeoutHost serves /upload (reads the body, answers its length or the
// error), /stream (streams for 4 body timeouts) and /hello.
func timeoutHost(t *testing.T, opts httpserver.Options) string {
	t.Helper()
	opts.Addr = "127.0.0.1:0"
	srv := httpserver.New(opts)
	upload := func(_ context.Context, c *ply.Call) error {
		r, w := c.Request().(*http.Request), c.Response().(http.ResponseWriter)
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		_, _ = fmt.Fprintf(w, "read %d", len(b))
		return nil
	}
	stream := func(_ context.Context, c *ply.Call) error {
		r, w := c.Request().(*http.Request), c.Response().(http.ResponseWriter)
		if _, err := io.ReadAll(r.Body); err != nil {
			return err
		}
		for i := range 4 {
			_, _ = fmt.Fprintf(w, "chunk %d\n", i)
			if err := http.NewResponseController(w).Flush(); err != nil {
				return err
			}
			select {
			case <-time.After(opts.BodyTimeout): // the timeout under test: real time must pass
			case <-r.Context().Done():
				return r.Context().Err()
			}
		}
		return nil
	}
	hello := func(_ context.Context, c *ply.Call) error {
		_, err := io.WriteString(c.Response().(http.ResponseWriter), "hello")
		return err
	}
	plytest.New(t, []ply.Plugin{srv}, ply.WithLogger(discard()), ply.WithModules(ply.Module{Name: "m", Handlers: []ply.Handler{
		{Kind: ply.KindHTTP, Name: "POST /upload", Func: upload},
		{Kind: ply.KindHTTP, Name: "POST /stream", Func: stream},
		{Kind: ply.KindHTTP, Name: "GET /hello", Func: hello},
	}}))
	return srv.Addr().String()
}

// dial opens a raw connection that gives up after 10 s, so that a server
// that never times out fails the test instead of hanging it.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := (&net.Dialer{}).DialContext(t.Context(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() }) // the server may have closed it already
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	return conn
}

// An idle keep-alive connection is closed after IdleTimeout.
func TestIdleConnectionClosed(t *testing.T) {
	addr := timeoutHost(t, httpserver.Options{IdleTimeout: 50 * time.Millisecond})
	conn := dial(t, addr)
	_, _ = io.WriteString(conn, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(res.Body)
	_ = res.Body.Close() // read to the end: a close error says nothing more
	start := time.Now()
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("idle connection: read = %v after %v, want EOF: the server must close it", err, time.Since(start))
	}
}

// A body that stops arriving fails the read after BodyTimeout, answered
// 408; a response that streams for longer than BodyTimeout is not cut.
func TestBodyTimeout(t *testing.T) {
	addr := timeoutHost(t, httpserver.Options{BodyTimeout: 100 * time.Millisecond})
	conn := dial(t, addr)
	_, _ = io.WriteString(conn, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b")
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("stalled body: %v, want a 408 answer", err)
	}
	_ = res.Body.Close() // only the status matters
	if res.StatusCode != http.StatusRequestTimeout {
		t.Errorf("stalled body: %d, want 408", res.StatusCode)
	}

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+addr+"/stream", strings.NewReader("go"))
	res, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }() // the read's error is the one checked
	body, err := io.ReadAll(res.Body)
	if err != nil || strings.Count(string(body), "chunk") != 4 {
		t.Errorf("stream of 4 body timeouts: %q, %v; want 4 chunks, whole", body, err)
	}
}
