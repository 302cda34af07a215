package ply_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/plykit/ply"
)

func TestChainOrder(t *testing.T) {
	for _, tt := range []struct {
		name  string
		specs []p
		opts  []ply.Option
		want  []string
	}{
		{name: "bands", specs: []p{{name: "cache", prio: ply.Performance}, {name: "auth", prio: ply.Security}, {name: "recover", prio: ply.System}},
			want: []string{"recover", "auth", "cache"}},
		{name: "before overrides priority", specs: []p{{name: "auth", prio: ply.Security}, {name: "trace", prio: ply.Logging, before: []string{"auth"}}},
			want: []string{"trace", "auth"}},
		{name: "after overrides priority", specs: []p{{name: "auth", prio: ply.Security, after: []string{"cache"}}, {name: "cache", prio: ply.Performance}},
			want: []string{"cache", "auth"}},
		{name: "dependencies do not move layers", specs: []p{{name: "a", prio: 100, requires: []ply.Dependency{{Name: "b"}}}, {name: "b", prio: 200}},
			want: []string{"a", "b"}},
		{name: "operator override", specs: []p{{name: "a", prio: 100}, {name: "b", prio: 200}}, opts: []ply.Option{ply.WithPriority("b", 10)},
			want: []string{"b", "a"}},
		{name: "negative and odd priorities", specs: []p{{name: "a", prio: 7}, {name: "b", prio: -3}, {name: "c", prio: 7}},
			want: []string{"b", "a", "c"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ply.New(plugins(tt.specs...), tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			plan, err := h.Plan()
			if err != nil {
				t.Fatalf("Plan() = %v", err)
			}
			if diff := cmp.Diff(tt.want, names(plan.Order(ply.ChainOrder))); diff != "" {
				t.Errorf("chain (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	for _, tt := range []struct {
		name    string
		specs   []p
		opts    []ply.Option
		is      []error  // every one must match
		msgs    []string // the joined message, one line each
		noHooks bool
	}{
		{name: "duplicate", specs: []p{{name: "a"}, {name: "b"}, {name: "a"}},
			is: []error{ply.ErrDuplicate}, msgs: []string{"register a@1.0.0 (#3): already registered as #1: ply: duplicate"}},
		{name: "empty name and bad semver", specs: []p{{name: ""}, {name: "x", version: "v1"}},
			is: []error{ply.ErrInvalidInfo}, msgs: []string{
				"register #1 (ply.Func): Info.Name is required: ply: empty name",
				`register x (#2): version "v1" is not semver (want "1.2.3"): ply: invalid plugin info`}},
		{name: "missing dependency", specs: []p{{name: "app", requires: []ply.Dependency{{Name: "db", Constraint: "^2"}}}},
			is: []error{ply.ErrNotRegistered}, msgs: []string{"plugin app@1.0.0 requires db ^2: ply: plugin not registered"}},
		{name: "version mismatch, optional too", specs: []p{{name: "db", version: "1.4.0"}, {name: "app", requires: []ply.Dependency{{Name: "db", Constraint: "^2", Optional: true}}}},
			is: []error{ply.ErrVersionMismatch}, msgs: []string{"plugin app@1.0.0 requires db ^2 (registered: 1.4.0): ply: version does not satisfy constraint"}},
		{name: "bad constraint", specs: []p{{name: "db"}, {name: "app", requires: []ply.Dependency{{Name: "db", Constraint: "~>banana"}}}},
			is: []error{ply.ErrInvalidInfo}, msgs: []string{`plugin app@1.0.0: requires db "~>banana": bad constraint (want e.g. "^1.2"): ply: invalid plugin info`}},
		{name: "unknown before", specs: []p{{name: "a", before: []string{"nope"}}},
			is: []error{ply.ErrInvalidInfo}, msgs: []string{`plugin a: Before("nope"): register "nope" or remove the constraint: ply: Before/After names no registered plugin`}},
		{name: "unknown priority override", specs: []p{{name: "a"}}, opts: []ply.Option{ply.WithPriority("b", 1)},
			is: []error{ply.ErrNotRegistered}, msgs: []string{`ply: WithPriority("b"): ply: plugin not registered`}},
		{name: "order cycle", specs: []p{{name: "a", before: []string{"b"}}, {name: "b", before: []string{"c"}}, {name: "c", before: []string{"a"}}},
			msgs: []string{"ply: order cycle: a -> b -> c -> a"}},
		{name: "dependency cycle", specs: []p{{name: "a", requires: []ply.Dependency{{Name: "b"}}}, {name: "b", requires: []ply.Dependency{{Name: "a"}}}},
			msgs: []string{"ply: dependency cycle: a -> b -> a"}},
		{name: "every problem at once", specs: []p{{name: "a"}, {name: "a"}, {name: "b", requires: []ply.Dependency{{Name: "zz"}}}, {name: "c", after: []string{"yy"}}},
			is: []error{ply.ErrDuplicate, ply.ErrNotRegistered, ply.ErrInvalidInfo}, msgs: []string{
				"register a@1.0.0 (#2): already registered as #1: ply: duplicate",
				"plugin b@1.0.0 requires zz: ply: plugin not registered",
				`plugin c: After("yy"): register "yy" or remove the constraint: ply: Before/After names no registered plugin`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lines, err, _ := run(t, plugins(tt.specs...), tt.opts...)
			if len(lines) != 0 {
				t.Errorf("hooks ran before the build error was found: %v", lines)
			}
			for _, target := range tt.is {
				if !errors.Is(err, target) {
					t.Errorf("Start() = %v, want it to match %v", err, target)
				}
			}
			if err == nil {
				t.Fatal("Start() = nil, want an error")
			}
			if diff := cmp.Diff(tt.msgs, strings.Split(err.Error(), "\n")); diff != "" {
				t.Errorf("error lines (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCycleErrorPath(t *testing.T) {
	h, _ := ply.New(plugins(p{name: "x"}, p{name: "a", after: []string{"b"}}, p{name: "b", after: []string{"a"}}))
	_, err := h.Plan()
	ce, ok := errors.AsType[*ply.CycleError](err)
	if !ok {
		t.Fatalf("Plan() = %v, want a *CycleError", err)
	}
	if diff := cmp.Diff(&ply.CycleError{Kind: "order", Path: []string{"a", "b", "a"}}, ce); diff != "" {
		t.Errorf("cycle (-want +got):\n%s", diff)
	}
}

func TestDependencyErrorFields(t *testing.T) {
	h, _ := ply.New(plugins(p{name: "db", version: "1.4.0"}, p{name: "db", version: "1.9.1"}, p{name: "app", version: "0.3.0", requires: []ply.Dependency{{Name: "db", Constraint: ">=2"}}}))
	_, err := h.Plan()
	de, ok := errors.AsType[*ply.DependencyError](err)
	if !ok {
		t.Fatalf("Plan() = %v, want a *DependencyError", err)
	}
	want := ply.DependencyError{Plugin: "app", Version: "0.3.0", Dependency: "db", Constraint: ">=2", Found: []string{"1.9.1", "1.4.0"}, Err: ply.ErrVersionMismatch}
	if diff := cmp.Diff(want, *de, cmpopts.EquateErrors()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestExplain(t *testing.T) {
	h, _ := ply.New(plugins(
		p{name: "cache", prio: ply.Performance},
		p{name: "auth", prio: ply.Security, requires: []ply.Dependency{{Name: "keys", Constraint: "^1"}}},
		p{name: "keys"},
		p{name: "metrics", prio: ply.Logging, before: []string{"auth"}},
		p{name: "audit", prio: ply.Logging},
	))
	plan, err := h.Plan()
	if err != nil {
		t.Fatal(err)
	}
	wantChain := `chain order:
  1. metrics@1.0.0  logging 200
  2. auth@1.0.0     security 100     metrics declares Before("auth")
  3. audit@1.0.0    logging 200      priority 100 (security) < 200 (logging)
  4. keys@1.0.0     business 300     priority 200 (logging) < 300 (business)
  5. cache@1.0.0    performance 400  priority 300 (business) < 400 (performance)
`
	if diff := cmp.Diff(wantChain, plan.Explain(ply.ChainOrder).String()); diff != "" {
		t.Errorf("chain explanation (-want +got):\n%s", diff)
	}
	wantLife := []string{"metrics", "audit", "keys", "auth", "cache"}
	if diff := cmp.Diff(wantLife, names(plan.Order(ply.LifecycleOrder))); diff != "" {
		t.Errorf("lifecycle (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		kind ply.OrderKind
		a, b string
		want string
	}{
		{ply.LifecycleOrder, "keys", "auth", "keys precedes auth: auth requires keys ^1"},
		{ply.LifecycleOrder, "audit", "auth", "audit precedes auth: audit before keys (priority 200 (logging) < 300 (business)); then keys before auth (auth requires keys ^1)"},
		{ply.ChainOrder, "metrics", "cache", "metrics precedes cache: priority 200 (logging) < 400 (performance)"},
	} {
		got, err := plan.Why(tt.kind, tt.a, tt.b)
		if err != nil || got != tt.want {
			t.Errorf("Why(%v, %s, %s) = %q, %v; want %q", tt.kind, tt.a, tt.b, got, err, tt.want)
		}
	}
	if _, err := plan.Why(ply.ChainOrder, "cache", "metrics"); err == nil {
		t.Error("Why(cache, metrics) = nil error, want one: cache does not precede metrics")
	}
	if _, err := plan.Why(ply.ChainOrder, "ghost", "metrics"); !errors.Is(err, ply.ErrNotRegistered) {
		t.Errorf("Why(ghost, ...) = %v, want ErrNotRegistered", err)
	}
}
