package ply_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply"
	"github.com/plykit/ply/plytest"
)

// counting is a stream handler that emits 1, 2, 3, responds with how many
// it emitted, and stops as told at the first failed Emit.
func counting(rec *plytest.Recorder, stop func(err error) error) ply.HandlerFunc {
	return func(_ context.Context, c *ply.Call) error {
		var errs []error
		sent := 0
		for i := 1; i <= 3; i++ {
			if err := ply.Emit(c, i); err != nil {
				rec.Record("emit ", i, ": ", err)
				if err := stop(err); err != nil {
					c.SetResponse(fmt.Sprintf("sent %d", sent))
					return err
				}
				errs = append(errs, err)
				continue
			}
			sent++
		}
		c.SetResponse(fmt.Sprintf("sent %d", sent))
		return errors.Join(errs...)
	}
}

func TestServeStream(t *testing.T) {
	keep := func(err error) error { return err }
	for _, tt := range []struct {
		name    string
		take    int                   // items the caller takes before it stops; 0 takes all
		stop    func(err error) error // what the handler returns on a failed Emit; nil to go on emitting
		hook    ply.AfterHook         // the after-hook of plugin "h"
		want    []int                 // the items the caller saw
		wantRes any                   // the final response
		wantErr func(error) bool      // the final error
		trace   []string
	}{
		{name: "exhausted", stop: keep, want: []int{1, 2, 3}, wantRes: "sent 3", wantErr: isNil,
			trace: []string{"got 1", "got 2", "got 3", "hook err=<nil>", "returned"}},
		{name: "stopped early: the hooks' outcome reaches the caller", take: 2, stop: keep, want: []int{1, 2}, wantRes: "sent 1",
			wantErr: func(err error) bool { return errors.Is(err, ply.ErrStreamClosed) },
			trace:   []string{"got 1", "got 2", "emit 2: ply: stream closed by its consumer", "hook err=ply: stream closed by its consumer", "returned"}},
		{name: "stopped early: a hook maps the error", take: 1, stop: keep, want: []int{1}, wantRes: "partial",
			hook: func(_ context.Context, c *ply.Call, err error, _ bool) error {
				if errors.Is(err, ply.ErrStreamClosed) {
					c.SetResponse("partial")
					return nil
				}
				return err
			},
			wantErr: isNil, trace: []string{"got 1", "emit 1: ply: stream closed by its consumer", "returned"}},
		{name: "stopped early: the handler's own error is not dropped", take: 1, want: []int{1}, wantRes: "sent 0",
			stop:    func(error) error { return errBoom },
			wantErr: func(err error) bool { return errors.Is(err, errBoom) && !errors.Is(err, ply.ErrStreamClosed) },
			trace:   []string{"got 1", "emit 1: ply: stream closed by its consumer", "hook err=boom", "returned"}},
		{name: "a handler that emits on after the stop never reaches the caller", take: 1, want: []int{1}, wantRes: "sent 0",
			stop:    func(error) error { return nil },
			wantErr: func(err error) bool { return errors.Is(err, ply.ErrStreamClosed) },
			trace: []string{"got 1", "emit 1: ply: stream closed by its consumer", "emit 2: ply: stream closed by its consumer",
				"emit 3: ply: stream closed by its consumer", "hook err=" + strings.Repeat("\nply: stream closed by its consumer", 3)[1:], "returned"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := plytest.NewRecorder()
			hook := tt.hook
			if hook == nil {
				hook = func(_ context.Context, _ *ply.Call, err error, _ bool) error {
					rec.Record("hook err=", err)
					return err
				}
			}
			ch := mount(t, []ply.Plugin{layerPlugin("h", 100, nil, hook)}, counting(rec, tt.stop))
			var got []int
			res, err := ply.ServeStream(t.Context(), ch, nil, func(v int) bool {
				rec.Record("got ", v)
				got = append(got, v)
				return tt.take == 0 || len(got) < tt.take
			})
			rec.Record("returned")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("items (-want +got):\n%s", diff)
			}
			if res != tt.wantRes || !tt.wantErr(err) {
				t.Errorf("ServeStream() = %v, %v; want %v and a matching error", res, err, tt.wantRes)
			}
			if diff := cmp.Diff(tt.trace, rec.Lines()); diff != "" {
				t.Errorf("trace (-want +got):\n%s", diff)
			}
		})
	}
}

func isNil(err error) bool { return err == nil }

// A panic in the loop body ends the stream, the hooks see it as the
// handler's, and it goes on in the caller, even when a layer swallowed it.
func TestServeStreamBodyPanic(t *testing.T) {
	rec := plytest.NewRecorder()
	swallow := func(ctx context.Context, _ *ply.Call, next ply.Next) error {
		rec.Record("swallowed: ", next.Catch(ctx))
		return nil
	}
	ch := mount(t, []ply.Plugin{layerPlugin("s", 100, swallow, rec.After("s"))}, counting(rec, func(err error) error { return err }))
	got := func() (v any) {
		defer func() { v = recover() }()
		_, _ = ply.ServeStream(t.Context(), ch, nil, func(int) bool { panic("consumer") })
		return nil
	}()
	if got != "consumer" {
		t.Errorf("recovered %v, want the loop body's panic", got)
	}
	want := []string{"swallowed: handler m/h: panic: consumer", "s hook ran=true err=<nil>"}
	if diff := cmp.Diff(want, rec.Lines()); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
}

// Stream never calls the loop body again once it stopped, even when the
// handler ignores ErrStreamClosed and emits on.
func TestStreamStopsForAHandlerThatEmitsOn(t *testing.T) {
	rec := plytest.NewRecorder()
	ch := mount(t, nil, counting(rec, func(error) error { return nil }))
	var got []int
	for v, err := range ply.Stream[int](t.Context(), ch, nil) {
		if err != nil {
			t.Fatalf("error after the loop stopped: %v", err)
		}
		got = append(got, v)
		break
	}
	if diff := cmp.Diff([]int{1}, got); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	want := []string{"emit 1: ply: stream closed by its consumer", "emit 2: ply: stream closed by its consumer", "emit 3: ply: stream closed by its consumer"}
	if diff := cmp.Diff(want, rec.Lines()); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
}
