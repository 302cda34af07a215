package ply_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/plykit/ply"
)

// hooked is a plugin with a layer and an after-hook, either of which can
// misbehave.
type hooked struct {
	layerPanics bool
	hookPanics  bool
}

func (p *hooked) Info() ply.Info { return ply.Info{Name: "hooked", Version: "1.0.0"} }

func (p *hooked) Wrap(context.Context, ply.Target) (ply.Wrap, error) {
	return ply.Wrap{
		Layer: func(ctx context.Context, _ *ply.Call, next ply.Next) error {
			if p.layerPanics {
				panic("layer exploded")
			}
			return next.Run(ctx)
		},
		After: func(_ context.Context, _ *ply.Call, err error, _ bool) error {
			if p.hookPanics {
				panic("hook exploded")
			}
			return err
		},
	}, nil
}

// Every way a call can end — return, error, panic in the handler, a layer
// or an after-hook, runtime.Goexit — ends its count on its generation: a
// reload afterwards drains at once instead of waiting for a call that no
// longer runs.
func TestGenerationCountsEveryEnd(t *testing.T) {
	errHandler := errors.New("handler failed")
	for _, tt := range []struct {
		name      string
		plugin    hooked
		handler   ply.HandlerFunc
		wantErr   error // matched with errors.Is
		wantPanic bool  // the error is a panic's, whose attribution other tests check
		goexit    bool  // the call ends its goroutine, returning nothing
	}{
		{name: "return", handler: func(context.Context, *ply.Call) error { return nil }},
		{name: "error", handler: func(context.Context, *ply.Call) error { return errHandler }, wantErr: errHandler},
		{name: "handler panics", handler: func(context.Context, *ply.Call) error { panic("handler exploded") }, wantPanic: true},
		{name: "layer panics", plugin: hooked{layerPanics: true}, handler: func(context.Context, *ply.Call) error { return nil }, wantPanic: true},
		{name: "hook panics", plugin: hooked{hookPanics: true}, handler: func(context.Context, *ply.Call) error { return nil }, wantPanic: true},
		{name: "goexit", handler: func(context.Context, *ply.Call) error { runtime.Goexit(); return nil }, goexit: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.plugin
			h, ch := startHost(t, []ply.Plugin{&p}, tt.handler)
			done := make(chan error, 1)
			go func() {
				defer close(done) // runtime.Goexit skips the send, not this
				_, err := ch.Serve(t.Context(), nil, nil)
				done <- err
			}()
			err, returned := <-done
			if returned == tt.goexit {
				t.Fatalf("the call returned = %v, want %v", returned, !tt.goexit)
			}
			if _, panicked := errors.AsType[*ply.PanicError](err); panicked != tt.wantPanic {
				t.Errorf("the call returned %v, want a panic's error: %v", err, tt.wantPanic)
			}
			if !tt.wantPanic && !errors.Is(err, tt.wantErr) {
				t.Errorf("the call returned %v, want %v", err, tt.wantErr)
			}
			// A failing test waits this long for a drain that never ends;
			// a passing one does not wait.
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			if _, err := h.Reload(ctx, ply.Change{Plugins: []ply.Plugin{&hooked{}}}); err != nil {
				_ = h.Stop(ctx) // without the drain: the host's cleanup would wait for it forever
				t.Fatalf("reload after the call: %v", err)
			}
		})
	}
}
