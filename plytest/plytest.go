// Package plytest helps test ply plugins and hosts: a host that stops
// itself when the test ends, and a trace recorder that turns what happened
// into lines a test compares with one expected trace.
//
// # Traces
//
//	rec := plytest.NewRecorder()
//	h := plytest.New(t, plugins, ply.WithObserver(rec.Observe))
//	if diff := cmp.Diff(want, rec.Lines()); diff != "" { ... }
//
// Lifecycle steps are recorded as "start cache" or, when they fail,
// "start cache: <error>"; wrap steps name the handler: "wrap cache users/get". Plugins under test add their own lines with
// [Recorder.Record].
package plytest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/plykit/ply"
)

// New builds a host for plugins, starts it, and stops it when the test
// ends. It fails the test if the host cannot be built or started, or if
// stopping it returns an error.
func New(t testing.TB, plugins []ply.Plugin, opts ...ply.Option) *ply.Host {
	t.Helper()
	h, err := ply.New(plugins, opts...)
	if err != nil {
		t.Fatalf("ply.New: %v", err)
	}
	if err := h.Start(t.Context()); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		if err := h.Stop(context.WithoutCancel(t.Context())); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return h
}

// Recorder collects trace lines. It is safe for concurrent use.
type Recorder struct {
	mu    sync.Mutex
	lines []string
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{} }

// Record appends a line, formatted as with fmt.Sprint.
func (r *Recorder) Record(a ...any) {
	r.mu.Lock()
	r.lines = append(r.lines, fmt.Sprint(a...))
	r.mu.Unlock()
}

// Observe records a lifecycle step as "op plugin", with ": err" appended
// when it failed. Pass it to [ply.WithObserver].
func (r *Recorder) Observe(s ply.Step) {
	line := s.Op + " " + s.Plugin
	if s.Handler != "" {
		line += " " + s.Handler
	}
	if s.Err != nil {
		line += ": " + s.Err.Error()
	}
	r.Record(line)
}

// Lines returns a copy of the lines recorded so far.
func (r *Recorder) Lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

// Reset forgets every line.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.lines = nil
	r.mu.Unlock()
}

// Layer returns a layer that records "name before" and "name after"
// around next, and "name error: <err>" when next fails.
func (r *Recorder) Layer(name string) ply.Layer {
	return func(ctx context.Context, _ *ply.Call, next ply.Next) error {
		r.Record(name, " before")
		err := next.Run(ctx)
		if err != nil {
			r.Record(name, " error: ", err)
		}
		r.Record(name, " after")
		return err
	}
}

// Catch returns a layer like [Recorder.Layer] that calls next.Catch, so it
// records an inner panic as its next's error.
func (r *Recorder) Catch(name string) ply.Layer {
	return func(ctx context.Context, _ *ply.Call, next ply.Next) error {
		r.Record(name, " before")
		err := next.Catch(ctx)
		if err != nil {
			r.Record(name, " error: ", err)
		}
		r.Record(name, " after")
		return err
	}
}

// After returns an after-hook that records "name hook ran=<ran> err=<err>"
// and keeps the error.
func (r *Recorder) After(name string) ply.AfterHook {
	return func(_ context.Context, _ *ply.Call, err error, ran bool) error {
		r.Record(name, " hook ran=", ran, " err=", err)
		return err
	}
}

// Handler returns a handler that records "handler name" and responds with
// name.
func (r *Recorder) Handler(name string) ply.HandlerFunc {
	return func(_ context.Context, c *ply.Call) error {
		r.Record("handler ", name)
		c.SetResponse(name)
		return nil
	}
}
