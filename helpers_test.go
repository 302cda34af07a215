package ply_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"go.uber.org/goleak"

	"github.com/plykit/ply"
	"github.com/plykit/ply/plytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// p describes a test plugin: every hook exists (so the observer sees it
// run) and does what fail, panics and blocks say for its op.
type p struct {
	name, version string
	prio          int
	requires      []ply.Dependency
	before, after []string
	policy        ply.Policy
	fail          map[string]error
	panics        string
	blocks        string        // op that blocks until release is closed (ignoring its context)
	release       chan struct{} // closed by the test
	children      []ply.Plugin
	opts          any
}

func (s p) plugin() ply.Plugin {
	v := s.version
	if v == "" {
		v = "1.0.0"
	}
	hook := func(op string) func(context.Context) error {
		return func(context.Context) error {
			if s.panics == op {
				panic(op + " exploded")
			}
			if s.blocks == op {
				<-s.release
			}
			return s.fail[op]
		}
	}
	return ply.Func{
		Meta: ply.Info{Name: s.name, Version: v, Priority: s.prio, Requires: s.requires,
			Before: s.before, After: s.after, Policy: s.policy},
		Opts:          s.opts,
		Children:      s.children,
		OnProvision:   func(ctx context.Context, _ *ply.Setup) error { return hook(ply.OpProvision)(ctx) },
		OnValidate:    hook(ply.OpValidate),
		OnBeforeStart: hook(ply.OpBeforeStart),
		OnStart:       hook(ply.OpStart),
		OnAfterStart:  hook(ply.OpAfterStart),
		OnStop:        hook(ply.OpStop),
		OnCleanup:     hook(ply.OpCleanup),
	}
}

func plugins(specs ...p) []ply.Plugin {
	out := make([]ply.Plugin, len(specs))
	for i, s := range specs {
		out[i] = s.plugin()
	}
	return out
}

// trace expands "op: a b c" shorthands into one line per plugin.
func trace(groups ...[]string) []string {
	var out []string
	for _, g := range groups {
		for _, name := range g[1:] {
			out = append(out, g[0]+" "+name)
		}
	}
	return out
}

func all(op string, names ...string) []string { return append([]string{op}, names...) }

// fullRun is the whole trace of a host that starts and stops cleanly.
func fullRun(order ...string) []string {
	rev := make([]string, len(order))
	for i, n := range order {
		rev[len(order)-1-i] = n
	}
	return trace(all(ply.OpProvision, order...), all(ply.OpValidate, order...), all(ply.OpBeforeStart, order...),
		all(ply.OpStart, order...), all(ply.OpAfterStart, order...), all(ply.OpStop, rev...), all(ply.OpCleanup, rev...))
}

// run starts and stops a host, returning the trace and the errors.
func run(t *testing.T, ps []ply.Plugin, opts ...ply.Option) (lines []string, startErr, stopErr error) {
	t.Helper()
	rec := plytest.NewRecorder()
	h, err := ply.New(ps, append(opts, ply.WithObserver(rec.Observe))...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	startErr = h.Start(t.Context())
	stopErr = h.Stop(t.Context())
	return rec.Lines(), startErr, stopErr
}

var errBoom = errors.New("boom")

// newHost builds (but does not start) a host whose lifecycle is recorded.
func newHost(t *testing.T, ps []ply.Plugin, opts ...ply.Option) (*plytest.Recorder, *ply.Host) {
	t.Helper()
	rec := plytest.NewRecorder()
	h, err := ply.New(ps, append(opts, ply.WithObserver(rec.Observe))...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return rec, h
}

var discard = slog.New(slog.DiscardHandler)
