package middleware_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/plykit/ply/middleware"
)

func TestAccessLogFields(t *testing.T) {
	logger, logs := newLogger()
	rid := must(middleware.NewRequestID(middleware.RequestIDOptions{}))(t)
	al := must(middleware.NewAccessLog(middleware.AccessLogOptions{}, logger))(t)
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "hello")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("ResponseController.Flush through the access log: %v", err)
		}
		_, _ = io.WriteString(w, " world")
	})
	srv := serve(t, route("GET /items/{id}", rid(al(h))))

	res := get(t, srv.Client(), srv.URL+"/items/42")
	if res.status != http.StatusCreated || res.body != "hello world" {
		t.Fatalf("got %d %q, want 201 \"hello world\"", res.status, res.body)
	}
	recs := logs.records(t)
	if len(recs) != 1 {
		t.Fatalf("got %d records, want 1", len(recs))
	}
	rec := recs[0]
	if _, ok := rec["duration"].(float64); !ok {
		t.Errorf("duration = %v, want a number", rec["duration"])
	}
	delete(rec, "duration")
	delete(rec, "time")
	want := map[string]any{
		"level": "INFO", "msg": "http request", "method": "GET", "path": "/items/42",
		"pattern": "GET /items/{id}", "status": float64(201), "bytes": float64(11),
		"request_id": res.header.Get("X-Request-Id"),
	}
	if diff := cmp.Diff(want, rec); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
}

func TestAccessLog5xxAtErrorLevel(t *testing.T) {
	logger, logs := newLogger()
	al := must(middleware.NewAccessLog(middleware.AccessLogOptions{Level: "debug"}, logger))(t)
	srv := serve(t, al(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })))
	get(t, srv.Client(), srv.URL)
	if recs := logs.records(t); len(recs) != 1 || recs[0]["level"] != "ERROR" || recs[0]["status"] != float64(502) {
		t.Errorf("records = %v, want one ERROR record with status 502", recs)
	}
}

func TestAccessLogPassesHijack(t *testing.T) {
	logger, _ := newLogger()
	al := must(middleware.NewAccessLog(middleware.AccessLogOptions{}, logger))(t)
	srv := serve(t, al(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack through the access log: %v", err)
			return
		}
		defer func() { _ = conn.Close() }()
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		_ = buf.Flush()
	})))

	conn, err := new(net.Dialer).DialContext(t.Context(), "tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	_, _ = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if string(body) != "hijacked" {
		t.Errorf("body = %q, want \"hijacked\"", body)
	}
}

func TestAccessLogOptionsValidate(t *testing.T) {
	_, err := middleware.NewAccessLog(middleware.AccessLogOptions{Level: "loud"}, nil)
	if err == nil {
		t.Fatal("NewAccessLog accepted level \"loud\"")
	}
	t.Log(err)
}

func TestAccessLogLogsPanicAs500(t *testing.T) {
	logger, logs := newLogger()
	rec := must(middleware.NewRecover(middleware.RecoverOptions{}, discardLogger()))(t)
	al := must(middleware.NewAccessLog(middleware.AccessLogOptions{}, logger))(t)
	srv := serve(t, rec(al(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))))
	if res := get(t, srv.Client(), srv.URL); res.status != 500 {
		t.Fatalf("status = %d, want 500", res.status)
	}
	if recs := logs.records(t); len(recs) != 1 || recs[0]["status"] != float64(500) || recs[0]["level"] != "ERROR" {
		t.Errorf("records = %v, want one ERROR record with status 500", recs)
	}
}
