package middleware_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/plykit/ply/middleware"
)

func TestRecoverPanicIs500ProblemAndLogged(t *testing.T) {
	logger, logs := newLogger()
	mw := must(middleware.NewRecover(middleware.RecoverOptions{Name: "stock.recover"}, logger))(t)
	srv := serve(t, mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })))

	res := get(t, srv.Client(), srv.URL+"/items/7")
	if res.status != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", res.status)
	}
	if got := res.header.Get("Content-Type"); got != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", got)
	}
	var p struct {
		Title  string `json:"title"`
		Status int    `json:"status"`
	}
	if err := json.Unmarshal([]byte(res.body), &p); err != nil || p.Status != 500 || p.Title != "Internal Server Error" {
		t.Errorf("body = %s (%v), want a 500 problem", res.body, err)
	}
	recs := logs.records(t)
	if len(recs) != 1 {
		t.Fatalf("got %d log records, want 1", len(recs))
	}
	r := recs[0]
	for k, want := range map[string]string{"layer": "stock.recover", "method": "GET", "path": "/items/7", "panic": "boom", "level": "ERROR"} {
		if r[k] != want {
			t.Errorf("log %s = %v, want %q", k, r[k], want)
		}
	}
	if stack, _ := r["stack"].(string); !strings.Contains(stack, "recover_test.go") {
		t.Errorf("log stack does not show the panicking handler:\n%s", stack)
	}
}

func TestRecoverRepanicsErrAbortHandler(t *testing.T) {
	logger, logs := newLogger()
	mw := must(middleware.NewRecover(middleware.RecoverOptions{}, logger))(t)
	srv := serve(t, mw(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	})))

	res, err := srv.Client().Do(newRequest(t, http.MethodGet, srv.URL, nil))
	if err == nil {
		_, err = io.ReadAll(res.Body)
		_ = res.Body.Close()
	}
	if err == nil {
		t.Fatal("the response was complete, want it aborted")
	}
	if recs := logs.records(t); len(recs) != 0 {
		t.Errorf("logged %v, want nothing for http.ErrAbortHandler", recs)
	}
}

func TestRecoverAfterStatusAbortsResponse(t *testing.T) {
	logger, logs := newLogger()
	mw := must(middleware.NewRecover(middleware.RecoverOptions{}, logger))(t)
	srv := serve(t, mw(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		panic("late")
	})))

	res, err := srv.Client().Do(newRequest(t, http.MethodGet, srv.URL, nil))
	if err == nil {
		_, err = io.ReadAll(res.Body)
		_ = res.Body.Close()
	}
	if err == nil {
		t.Error("the response was complete, want it cut short: its status was already sent")
	}
	if recs := logs.records(t); len(recs) != 1 || recs[0]["panic"] != "late" {
		t.Errorf("logged %v, want the panic", recs)
	}
}
