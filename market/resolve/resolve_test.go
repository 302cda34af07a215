package resolve_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply/market/resolve"
)

// index is an in-memory index: "name" -> versions. Versions are written
// "1.0.0 -> b ^1, c? ~2" (c optional), with "!" for yanked and "@2" for
// ABI 2.
type index map[string][]string

func (ix index) Versions(_ context.Context, name string) ([]resolve.Candidate, error) {
	var out []resolve.Candidate
	for _, spec := range ix[name] {
		head, deps, _ := strings.Cut(spec, "->")
		c := resolve.Candidate{ABI: 1}
		head = strings.TrimSpace(head)
		if v, ok := strings.CutSuffix(head, "!"); ok {
			head, c.Yanked = v, true
		}
		if v, abi, ok := strings.Cut(head, "@"); ok {
			head = v
			_, _ = fmt.Sscan(abi, &c.ABI)
		}
		c.Version = head
		for d := range strings.SplitSeq(deps, ",") {
			if d = strings.TrimSpace(d); d == "" {
				continue
			}
			n, con, _ := strings.Cut(d, " ")
			dep := resolve.Dependency{Constraint: con}
			dep.Name, dep.Optional = strings.CutSuffix(n, "?")
			c.Requires = append(c.Requires, dep)
		}
		out = append(out, c)
	}
	return out, nil
}

func picks(ps []resolve.Pick) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name+"@"+p.Version)
	}
	return strings.Join(out, " ")
}

func reqs(s string) []resolve.Requirement {
	var out []resolve.Requirement
	for r := range strings.FieldsSeq(s) {
		n, c, _ := strings.Cut(r, "@")
		out = append(out, resolve.Requirement{Name: n, Constraint: c})
	}
	return out
}

func TestSolve(t *testing.T) {
	ix := index{
		"greeter": {"1.0.0 -> tagger ^1", "1.1.0 -> tagger ^1, log? >=2"},
		"tagger":  {"1.0.0", "1.2.0", "2.0.0", "1.3.0!", "1.4.0@2"},
		"log":     {"1.0.0", "2.1.0"},
		"a":       {"1.0.0 -> b ^1", "2.0.0 -> b ^2"},
		"b":       {"1.0.0", "2.0.0 -> c ^9"},
		"c":       {"1.0.0"},
	}
	for _, tt := range []struct {
		name, reqs string
		prefer     map[string]string
		want       string
	}{
		{name: "newest that fits", reqs: "greeter", want: "greeter@1.1.0 tagger@1.2.0"},
		{name: "yanked and other ABIs are skipped", reqs: "tagger@^1", want: "tagger@1.2.0"},
		{name: "an optional dependency constrains when present", reqs: "greeter log", want: "greeter@1.1.0 log@2.1.0 tagger@1.2.0"},
		{name: "an optional dependency backtracks", reqs: "greeter log@^1", want: "greeter@1.0.0 log@1.0.0 tagger@1.2.0"},
		{name: "backtracking past a dead end", reqs: "a", want: "a@1.0.0 b@1.0.0"},
		{name: "a locked version first", reqs: "greeter", prefer: map[string]string{"tagger": "1.0.0"}, want: "greeter@1.1.0 tagger@1.0.0"},
		{name: "a locked version that no longer fits", reqs: "greeter tagger@^1.2", prefer: map[string]string{"tagger": "1.0.0"}, want: "greeter@1.1.0 tagger@1.2.0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolve.Solve(t.Context(), ix, reqs(tt.reqs), resolve.Options{ABI: 1, Prefer: tt.prefer})
			if err != nil {
				t.Fatal(err)
			}
			if picks(got) != tt.want {
				t.Errorf("Solve(%s) = %s, want %s", tt.reqs, picks(got), tt.want)
			}
		})
	}
}

func TestConflictExplained(t *testing.T) {
	ix := index{
		"greeter": {"1.0.0 -> tagger ^1"},
		"tagger":  {"1.0.0", "2.0.0", "3.0.0@2"},
		"loud":    {"1.0.0 -> tagger ^2"},
	}
	for _, tt := range []struct {
		name, reqs string
		want       string
	}{
		{name: "your constraint against a plugin's", reqs: "greeter tagger@^2", want: `no set of plugin versions satisfies the request:
  because you require greeter (any version),
  greeter 1.0.0 cannot be used:
    because you require tagger ^2,
    because greeter 1.0.0 requires tagger ^1,
    and tagger 3.0.0 (built for ABI 2; the host speaks 1), 2.0.0 (excluded because greeter 1.0.0 requires tagger ^1), 1.0.0 (excluded because you require tagger ^2),
    so no version of tagger can be installed.
  so no version of greeter can be installed.`},
		{name: "two plugins' constraints", reqs: "loud greeter", want: `no set of plugin versions satisfies the request:
  because you require loud (any version),
  loud 1.0.0 cannot be used:
    because you require greeter (any version),
    greeter 1.0.0 cannot be used:
      because loud 1.0.0 requires tagger ^2,
      because greeter 1.0.0 requires tagger ^1,
      and tagger 3.0.0 (built for ABI 2; the host speaks 1), 2.0.0 (excluded because greeter 1.0.0 requires tagger ^1), 1.0.0 (excluded because loud 1.0.0 requires tagger ^2),
      so no version of tagger can be installed.
    so no version of greeter can be installed.
  so no version of loud can be installed.`},
		{name: "an unknown plugin", reqs: "nope", want: `no set of plugin versions satisfies the request:
  because you require nope (any version),
  and the registry has no version of nope, nope cannot be installed.`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := resolve.Solve(t.Context(), ix, reqs(tt.reqs), resolve.Options{ABI: 1})
			ce, ok := errors.AsType[*resolve.ConflictError](err)
			if !ok {
				t.Fatalf("Solve() error = %v, want a *ConflictError", err)
			}
			if diff := cmp.Diff(tt.want, ce.Error()); diff != "" {
				t.Errorf("explanation (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSolveTooHard(t *testing.T) {
	ix := index{}
	// Every version of p0..p9 requires p(i+1) ^1, and q needs p9 ^2,
	// which does not exist: 5^10 combinations to rule out.
	for i := range 10 {
		for v := range 5 {
			ix[fmt.Sprint("p", i)] = append(ix[fmt.Sprint("p", i)], fmt.Sprintf("1.%d.0 -> p%d ^1", v, i+1))
		}
	}
	ix["p10"] = []string{"1.0.0 -> z ^2"}
	ix["z"] = []string{"1.0.0"}
	_, err := resolve.Solve(t.Context(), ix, reqs("p0"), resolve.Options{ABI: 1, MaxSteps: 1000})
	if !errors.Is(err, resolve.ErrTooHard) {
		t.Fatalf("Solve() error = %v, want ErrTooHard", err)
	}
}

// A plugin with five dependencies, each with versions to skip.
func BenchmarkSolve(b *testing.B) {
	ix := index{"app": {"1.0.0 -> d1 ^1, d2 ^1, d3 ^1, d4 ^1, d5 ^1"}}
	for i := 1; i <= 5; i++ {
		ix[fmt.Sprint("d", i)] = []string{"1.0.0", "1.1.0", "1.2.0", "2.0.0", "3.0.0"}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := resolve.Solve(context.Background(), ix, reqs("app"), resolve.Options{ABI: 1}); err != nil {
			b.Fatal(err)
		}
	}
}
