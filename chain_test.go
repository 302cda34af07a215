package ply_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply"
	"github.com/plykit/ply/plytest"
)

// layerPlugin is a plugin that wraps every handler with layer and after.
func layerPlugin(name string, prio int, layer ply.Layer, after ply.AfterHook) ply.Plugin {
	return ply.Func{
		Meta: ply.Info{Name: name, Version: "1.0.0", Priority: prio},
		OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
			return ply.Wrap{Layer: layer, After: after}, nil
		},
	}
}

// serve starts a host with one rpc handler fn and calls it once.
func serve(t *testing.T, ps []ply.Plugin, fn ply.HandlerFunc) (any, error) {
	t.Helper()
	ch := mount(t, ps, fn)
	return ch.Serve(t.Context(), "req", nil)
}

// mount starts a host with one rpc handler (module "m", handler "h") and
// returns its chain; the host stops at test cleanup.
func mount(t testing.TB, ps []ply.Plugin, fn ply.HandlerFunc, opts ...ply.Option) *ply.Chain {
	t.Helper()
	_, ch := startHost(t, ps, fn, opts...)
	return ch
}

// isPanicIn matches a panic in plugin's layer.
func isPanicIn(plugin string) func(error) bool {
	return func(err error) bool {
		pe, ok := errors.AsType[*ply.PluginError](err)
		_, isPanic := errors.AsType[*ply.PanicError](err)
		return ok && pe.Plugin == plugin && pe.Op == ply.OpLayer && isPanic
	}
}

func TestOnion(t *testing.T) {
	errMapped := errors.New("mapped")
	for _, tt := range []struct {
		name    string
		layers  func(rec *plytest.Recorder) []ply.Plugin // registered in this order
		handler func(rec *plytest.Recorder) ply.HandlerFunc
		want    []string
		wantErr func(error) bool
	}{
		{
			name: "outer to inner, then inner to outer; hooks after, in priority order",
			layers: func(rec *plytest.Recorder) []ply.Plugin {
				return []ply.Plugin{
					layerPlugin("c", 300, rec.Layer("c"), rec.After("c")),
					layerPlugin("a", 100, rec.Layer("a"), rec.After("a")),
					layerPlugin("b", 200, rec.Layer("b"), nil),
				}
			},
			want: []string{"a before", "b before", "c before", "handler h", "c after", "b after", "a after",
				"a hook ran=true err=<nil>", "c hook ran=true err=<nil>"},
		},
		{
			name: "short-circuit: inner layers and handler do not run, their hooks do",
			layers: func(rec *plytest.Recorder) []ply.Plugin {
				return []ply.Plugin{
					layerPlugin("a", 100, rec.Layer("a"), rec.After("a")),
					layerPlugin("b", 200, func(context.Context, *ply.Call, ply.Next) error { rec.Record("b stops"); return nil }, rec.After("b")),
					layerPlugin("c", 300, rec.Layer("c"), rec.After("c")),
				}
			},
			want: []string{"a before", "b stops", "a after", "a hook ran=true err=<nil>", "b hook ran=true err=<nil>", "c hook ran=false err=<nil>"},
		},
		{
			name: "errors flow outward and can be mapped",
			layers: func(rec *plytest.Recorder) []ply.Plugin {
				mapper := func(ctx context.Context, _ *ply.Call, next ply.Next) error {
					if err := next.Run(ctx); errors.Is(err, errBoom) {
						rec.Record("b maps ", err)
						return errMapped
					}
					return nil
				}
				return []ply.Plugin{layerPlugin("a", 100, rec.Layer("a"), rec.After("a")), layerPlugin("b", 200, mapper, nil)}
			},
			handler: func(rec *plytest.Recorder) ply.HandlerFunc {
				return func(context.Context, *ply.Call) error { rec.Record("handler fails"); return errBoom }
			},
			want:    []string{"a before", "handler fails", "b maps boom", "a error: mapped", "a after", "a hook ran=true err=mapped"},
			wantErr: func(err error) bool { return errors.Is(err, errMapped) },
		},
		{
			name: "a panic in a layer unwinds the outer layers; hooks and the caller see it, attributed to its plugin",
			layers: func(rec *plytest.Recorder) []ply.Plugin {
				boom := func(context.Context, *ply.Call, ply.Next) error { panic("kaboom") }
				return []ply.Plugin{layerPlugin("a", 100, rec.Layer("a"), rec.After("a")), layerPlugin("b", 200, boom, rec.After("b"))}
			},
			want:    []string{"a before", "a hook ran=true err=layer b@1.0.0: panic: kaboom", "b hook ran=true err=layer b@1.0.0: panic: kaboom"},
			wantErr: isPanicIn("b"),
		},
		{
			name: "a layer that catches sees an inner panic as the error of its next, and goes on",
			layers: func(rec *plytest.Recorder) []ply.Plugin {
				boom := func(context.Context, *ply.Call, ply.Next) error { panic("kaboom") }
				return []ply.Plugin{
					layerPlugin("a", 100, rec.Layer("a"), rec.After("a")),
					layerPlugin("b", 200, rec.Catch("b"), nil),
					layerPlugin("c", 300, rec.Layer("c"), nil),
					layerPlugin("d", 400, boom, rec.After("d")),
				}
			},
			want: []string{"a before", "b before", "c before", "b error: layer d@1.0.0: panic: kaboom", "b after",
				"a error: layer d@1.0.0: panic: kaboom", "a after",
				"a hook ran=true err=layer d@1.0.0: panic: kaboom", "d hook ran=true err=layer d@1.0.0: panic: kaboom"},
			wantErr: isPanicIn("d"),
		},
		{
			name: "a panic in a layer's after-code is its own, also after an inner panic was caught",
			layers: func(rec *plytest.Recorder) []ply.Plugin {
				boom := func(context.Context, *ply.Call, ply.Next) error { panic("kaboom") }
				late := func(ctx context.Context, _ *ply.Call, next ply.Next) error {
					rec.Record("late caught ", next.Catch(ctx))
					panic("late")
				}
				return []ply.Plugin{layerPlugin("a", 100, rec.Catch("a"), nil), layerPlugin("late", 200, late, nil), layerPlugin("b", 300, boom, nil)}
			},
			want:    []string{"a before", "late caught layer b@1.0.0: panic: kaboom", "a error: layer late@1.0.0: panic: late", "a after"},
			wantErr: isPanicIn("late"),
		},
		{
			name: "a panic in the handler names the handler",
			layers: func(rec *plytest.Recorder) []ply.Plugin {
				return []ply.Plugin{layerPlugin("a", 100, rec.Catch("a"), nil)}
			},
			handler: func(*plytest.Recorder) ply.HandlerFunc {
				return func(context.Context, *ply.Call) error { panic("oops") }
			},
			want: []string{"a before", "a error: handler m/h: panic: oops", "a after"},
			wantErr: func(err error) bool {
				he, ok := errors.AsType[*ply.HandlerError](err)
				return ok && he.Module == "m" && he.Handler == "h"
			},
		},
		{
			name: "a layer may recover an inner panic itself, the Go way",
			layers: func(rec *plytest.Recorder) []ply.Plugin {
				recovers := func(ctx context.Context, _ *ply.Call, next ply.Next) (err error) {
					defer func() {
						if v := recover(); v != nil {
							rec.Record("b recovered ", v)
							err = errMapped
						}
					}()
					return next.Run(ctx)
				}
				boom := func(context.Context, *ply.Call, ply.Next) error { panic("kaboom") }
				return []ply.Plugin{layerPlugin("a", 100, rec.Layer("a"), rec.After("a")), layerPlugin("b", 200, recovers, nil), layerPlugin("c", 300, boom, rec.After("c"))}
			},
			want:    []string{"a before", "b recovered kaboom", "a error: mapped", "a after", "a hook ran=true err=mapped", "c hook ran=true err=mapped"},
			wantErr: func(err error) bool { return errors.Is(err, errMapped) },
		},
		{
			name: "next may be re-run sequentially (retries)",
			layers: func(rec *plytest.Recorder) []ply.Plugin {
				retry := func(ctx context.Context, _ *ply.Call, next ply.Next) error {
					err := next.Run(ctx)
					rec.Record("retry after ", err)
					return next.Run(ctx)
				}
				attempts := 0
				flaky := func(ctx context.Context, _ *ply.Call, next ply.Next) error {
					attempts++
					if attempts == 1 {
						return errBoom
					}
					return next.Run(ctx)
				}
				return []ply.Plugin{layerPlugin("retry", 100, retry, nil), layerPlugin("b", 200, rec.Layer("b"), nil), layerPlugin("flaky", 300, flaky, nil)}
			},
			want: []string{"b before", "b error: boom", "b after", "retry after boom", "b before", "handler h", "b after"},
		},
		{
			name: "after-hooks replace the response and error; a panicking hook becomes the error later hooks see",
			layers: func(rec *plytest.Recorder) []ply.Plugin {
				replace := func(_ context.Context, c *ply.Call, _ error, _ bool) error {
					c.SetResponse("replaced")
					return nil
				}
				panics := func(context.Context, *ply.Call, error, bool) error { panic("hook down") }
				return []ply.Plugin{
					layerPlugin("a", 100, nil, rec.After("a")),
					layerPlugin("b", 200, nil, panics),
					layerPlugin("c", 300, nil, rec.After("c")),
					layerPlugin("d", 400, nil, replace),
					layerPlugin("e", 500, nil, func(_ context.Context, c *ply.Call, err error, ran bool) error {
						rec.Record(fmt.Sprintf("e sees %v %v ran=%v", c.Response(), err, ran))
						return err
					}),
				}
			},
			handler: func(rec *plytest.Recorder) ply.HandlerFunc {
				return func(context.Context, *ply.Call) error { rec.Record("handler fails"); return errBoom }
			},
			want: []string{"handler fails", "a hook ran=false err=boom", "c hook ran=false err=after b@1.0.0: panic: hook down", "e sees replaced <nil> ran=false"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := plytest.NewRecorder()
			handler := rec.Handler("h")
			if tt.handler != nil {
				handler = tt.handler(rec)
			}
			_, err := serve(t, tt.layers(rec), handler)
			if diff := cmp.Diff(tt.want, rec.Lines()); diff != "" {
				t.Errorf("trace (-want +got):\n%s", diff)
			}
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !tt.wantErr(err) {
				t.Errorf("Serve() error = %v", err)
			}
		})
	}
}

func TestAfterHooksOnCancel(t *testing.T) {
	rec := plytest.NewRecorder()
	cancelled := func(ctx context.Context, _ *ply.Call, next ply.Next) error {
		if err := ctx.Err(); err != nil {
			return err // layers check the context; the kernel does not
		}
		return next.Run(ctx)
	}
	ch := mount(t, []ply.Plugin{layerPlugin("a", 100, cancelled, rec.After("a"))}, rec.Handler("h"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := ch.Serve(ctx, nil, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Serve() = %v, want context.Canceled", err)
	}
	if diff := cmp.Diff([]string{"a hook ran=true err=context canceled"}, rec.Lines()); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
}

// TestRanIsPerCall runs calls on one chain, one after the other, so they
// share a pooled call: "my layer ran" and the bag must be this call's.
func TestRanIsPerCall(t *testing.T) {
	rec := plytest.NewRecorder()
	gate := func(ctx context.Context, c *ply.Call, next ply.Next) error {
		if c.Request() == "stop" {
			return nil
		}
		return next.Run(ctx)
	}
	recovers := func(ctx context.Context, _ *ply.Call, next ply.Next) (err error) {
		defer func() {
			if recover() != nil {
				err = errBoom
			}
		}()
		return next.Run(ctx)
	}
	handler := func(_ context.Context, c *ply.Call) error {
		if c.Request() == "panic" {
			panic("handler")
		}
		return nil
	}
	ch := mount(t, []ply.Plugin{
		layerPlugin("gate", 100, gate, nil),
		layerPlugin("recovers", 200, recovers, nil),
		layerPlugin("inner", 300, rec.Layer("inner"), rec.After("inner")),
	}, handler)
	for _, req := range []string{"go", "stop", "panic", "stop", "go", "stop"} {
		_, _ = ch.Serve(t.Context(), req, nil)
	}
	want := []string{
		"inner before", "inner after", "inner hook ran=true err=<nil>",
		"inner hook ran=false err=<nil>",
		"inner before", "inner hook ran=true err=boom",
		"inner hook ran=false err=<nil>",
		"inner before", "inner after", "inner hook ran=true err=<nil>",
		"inner hook ran=false err=<nil>",
	}
	if diff := cmp.Diff(want, rec.Lines()); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
}

func TestNextMisuse(t *testing.T) {
	t.Run("concurrent next: the second caller gets the error", func(t *testing.T) {
		entered, done := make(chan struct{}), make(chan error)
		twice := func(ctx context.Context, _ *ply.Call, next ply.Next) error {
			go func() { <-entered; done <- next.Run(ctx) }()
			return next.Run(ctx)
		}
		handler := func(context.Context, *ply.Call) error {
			close(entered)
			if err := <-done; !errors.Is(err, ply.ErrNextMisused) || !strings.Contains(err.Error(), "layer twice@1.0.0: ply: next called concurrently") {
				t.Errorf("second next = %v, want a concurrent-next error naming the plugin", err)
			}
			return nil
		}
		if _, err := serve(t, []ply.Plugin{layerPlugin("twice", 100, twice, nil)}, handler); err != nil {
			t.Errorf("Serve() = %v, want nil: the first next succeeded", err)
		}
	})
	t.Run("next after the layer returned", func(t *testing.T) {
		var kept ply.Next
		keep := func(ctx context.Context, _ *ply.Call, next ply.Next) error { kept = next; return next.Run(ctx) }
		ch := mount(t, []ply.Plugin{layerPlugin("keeper", 100, keep, nil)}, func(context.Context, *ply.Call) error { return nil })
		if _, err := ch.Serve(t.Context(), nil, nil); err != nil {
			t.Fatal(err)
		}
		err := kept.Run(t.Context())
		pe, ok := errors.AsType[*ply.PluginError](err)
		if !ok || pe.Plugin != "keeper" || !errors.Is(err, ply.ErrNextMisused) {
			t.Errorf("late next = %v, want a *PluginError naming keeper", err)
		}
	})
	t.Run("layer returned while its next was still running", func(t *testing.T) {
		entered, release, finished := make(chan struct{}), make(chan struct{}), make(chan error)
		leave := true
		leaver := func(ctx context.Context, _ *ply.Call, next ply.Next) error {
			if !leave {
				return next.Run(ctx)
			}
			go func() { finished <- next.Run(ctx) }()
			<-entered
			return nil
		}
		handler := func(context.Context, *ply.Call) error {
			if leave {
				close(entered)
				<-release
			}
			return nil
		}
		ch := mount(t, []ply.Plugin{layerPlugin("leaver", 100, leaver, nil)}, handler)
		if _, err := ch.Serve(t.Context(), nil, nil); err != nil {
			t.Errorf("Serve() = %v, want nil: the call ended when leaver returned", err)
		}
		close(release)
		// The goroutine left inside next learns it, with the misusing plugin's name.
		if err := <-finished; !errors.Is(err, ply.ErrNextMisused) || !strings.Contains(err.Error(), "layer leaver@1.0.0: ply: layer returned while its next was still running") {
			t.Errorf("next.Run in the goroutine = %v, want a misuse error naming leaver", err)
		}
		// The abandoned call is never reused: the chain serves on.
		leave = false
		if _, err := ch.Serve(t.Context(), nil, nil); err != nil {
			t.Errorf("second Serve() = %v, want nil", err)
		}
	})
}

var (
	userKey  = ply.NewKey[string]("auth.user")
	countKey = ply.NewKey[int]("metrics.count")
)

func TestRequestBag(t *testing.T) {
	setUser := func(ctx context.Context, c *ply.Call, next ply.Next) error {
		ply.Set(c, userKey, c.Request().(string))
		n, _ := ply.Get(c, countKey)
		ply.Set(c, countKey, n+1)
		return next.Run(ctx)
	}
	handler := func(_ context.Context, c *ply.Call) error {
		user, ok := ply.Get(c, userKey)
		n, _ := ply.Get(c, countKey)
		if !ok || user != c.Request().(string) || n != 1 {
			return fmt.Errorf("bag: user %q (%v) for request %v, count %d", user, ok, c.Request(), n)
		}
		c.SetResponse(user)
		return nil
	}
	ch := mount(t, []ply.Plugin{layerPlugin("auth", 100, setUser, nil)}, handler)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				req := fmt.Sprintf("user-%d-%d", g, i)
				if res, err := ch.Serve(t.Context(), req, nil); err != nil || res != req {
					t.Errorf("Serve(%s) = %v, %v", req, res, err)
					return
				}
			}
		})
	}
	wg.Wait()

	fresh := mount(t, nil, func(_ context.Context, c *ply.Call) error {
		if v, ok := ply.Get(c, userKey); ok {
			return fmt.Errorf("value %q leaked from an earlier call", v)
		}
		ply.Set(c, userKey, "set")
		return nil
	})
	for range 3 {
		if _, err := fresh.Serve(t.Context(), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStream(t *testing.T) {
	for _, tt := range []struct {
		name  string
		take  int
		want  []string
		items []int
	}{
		{name: "layers finish when the stream ends", take: 10, items: []int{1, 2, 3},
			want: []string{"a before", "emit 1", "emit 2", "emit 3", "a after", "a hook ran=true err=<nil>"}},
		{name: "consumer stops early: the handler sees ErrStreamClosed", take: 2, items: []int{1, 2},
			want: []string{"a before", "emit 1", "emit 2", "handler stopped: ply: stream closed by its consumer", "a error: ply: stream closed by its consumer", "a after", "a hook ran=true err=ply: stream closed by its consumer"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := plytest.NewRecorder()
			handler := func(_ context.Context, c *ply.Call) error {
				for i := 1; i <= 3; i++ {
					rec.Record("emit ", i)
					if err := ply.Emit(c, i); err != nil {
						rec.Record("handler stopped: ", err)
						return err
					}
				}
				return nil
			}
			ch := mount(t, []ply.Plugin{layerPlugin("a", 100, rec.Layer("a"), rec.After("a"))}, handler)
			var got []int
			for v, err := range ply.Stream[int](t.Context(), ch, nil) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, v)
				if len(got) == tt.take {
					break
				}
			}
			if diff := cmp.Diff(tt.items, got); diff != "" {
				t.Errorf("items (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, rec.Lines()); diff != "" {
				t.Errorf("trace (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("a panic in the loop body ends the stream and stays the caller's", func(t *testing.T) {
		rec := plytest.NewRecorder()
		ch := mount(t, []ply.Plugin{layerPlugin("a", 100, rec.Catch("a"), rec.After("a"))}, func(_ context.Context, c *ply.Call) error {
			return ply.Emit(c, 1)
		})
		got := func() (v any) {
			defer func() { v = recover() }()
			for _, err := range ply.Stream[int](t.Context(), ch, nil) {
				_ = err // the body panics at the first value, whatever it holds
				panic("consumer")
			}
			return nil
		}()
		if got != "consumer" {
			t.Errorf("recovered %v, want the loop body's panic", got)
		}
		want := []string{"a before", "a error: handler m/h: panic: consumer", "a after", "a hook ran=true err=handler m/h: panic: consumer"}
		if diff := cmp.Diff(want, rec.Lines()); diff != "" {
			t.Errorf("trace (-want +got):\n%s", diff)
		}
	})
	t.Run("a failing stream ends with its error", func(t *testing.T) {
		ch := mount(t, nil, func(_ context.Context, c *ply.Call) error { _ = ply.Emit(c, 1); return errBoom })
		var errs []error
		for _, err := range ply.Stream[int](t.Context(), ch, nil) {
			errs = append(errs, err)
		}
		if len(errs) != 2 || errs[0] != nil || !errors.Is(errs[1], errBoom) {
			t.Errorf("stream errors = %v, want [nil boom]", errs)
		}
	})
}

func TestComposition(t *testing.T) {
	rec := plytest.NewRecorder()
	isAdmin := func(c *ply.Call) bool { return c.Request() == "admin" }
	upper := func(_ context.Context, c *ply.Call) error {
		c.SetRequest(strings.ToUpper(c.Request().(string)))
		return nil
	}
	exclaim := func(_ context.Context, c *ply.Call) error { c.SetRequest(c.Request().(string) + "!"); return nil }
	group := ply.Compose(rec.Layer("g1"), ply.When(isAdmin, rec.Layer("admin-only")), rec.Layer("g2"))
	handler := func(_ context.Context, c *ply.Call) error { rec.Record("handler ", c.Request()); return nil }
	ch := mount(t, []ply.Plugin{layerPlugin("group", 100, group, nil), layerPlugin("pipe", 200, ply.Pipe(upper, exclaim), nil)}, handler)
	for _, req := range []string{"admin", "guest"} {
		if _, err := ch.Serve(t.Context(), req, nil); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"g1 before", "admin-only before", "g2 before", "handler ADMIN!", "g2 after", "admin-only after", "g1 after",
		"g1 before", "g2 before", "handler GUEST!", "g2 after", "g1 after",
	}
	if diff := cmp.Diff(want, rec.Lines()); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
}

func TestWrapPhase(t *testing.T) {
	rec := plytest.NewRecorder()
	jobsOnly := ply.Func{
		Meta: ply.Info{Name: "jobs", Version: "1.0.0", Priority: ply.Logging, Kinds: []ply.Kind{ply.KindJob}},
		OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
			return ply.Wrap{Layer: rec.Layer("jobs")}, nil
		},
	}
	tagged := ply.Func{
		Meta: ply.Info{Name: "audit", Version: "1.0.0", Priority: ply.Security},
		OnWrap: func(_ context.Context, t ply.Target) (ply.Wrap, error) {
			if !t.Handler.HasTag("audited") {
				return ply.Wrap{}, nil
			}
			return ply.Wrap{Layer: rec.Layer("audit")}, nil
		},
	}
	var bound []string
	router := ply.Func{
		Meta: ply.Info{Name: "router", Version: "1.0.0", Priority: ply.Route},
		OnBind: func(_ context.Context, chains []*ply.Chain) error {
			for _, ch := range chains {
				bound = append(bound, ch.Module().Name+"/"+ch.Handler().Name)
			}
			return nil
		},
	}
	h, err := ply.New([]ply.Plugin{jobsOnly, tagged, router}, ply.WithObserver(rec.Observe))
	if err != nil {
		t.Fatal(err)
	}
	err = h.Mount(ply.Module{Name: "users", Handlers: []ply.Handler{
		{Kind: ply.KindRPC, Name: "get", Func: rec.Handler("get"), Tags: []string{"audited"}},
		{Kind: ply.KindJob, Name: "reindex", Func: rec.Handler("reindex")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := h.Stop(t.Context()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	}()
	if err := h.Mount(ply.Module{Name: "late"}); !errors.Is(err, ply.ErrStarted) {
		t.Errorf("Mount after Start = %v, want ErrStarted", err)
	}
	for _, name := range []string{"get", "reindex"} {
		ch, err := h.Chain("users", name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ch.Serve(t.Context(), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"wrap audit users/get", "wrap audit users/reindex", "wrap jobs users/reindex", "bind router",
		"audit before", "handler get", "audit after",
		"jobs before", "handler reindex", "jobs after",
	}
	if diff := cmp.Diff(want, rec.Lines()); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"users/get", "users/reindex"}, bound); diff != "" {
		t.Errorf("bound (-want +got):\n%s", diff)
	}
}
