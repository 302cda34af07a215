// Package resolve picks a consistent set of plugin versions: every
// requirement's semver constraint met, every version built for the host's
// ABI, none yanked. When there is none it explains why the way PubGrub
// does — which requirement of which plugin excludes which versions, and
// what follows from it — so that a user sees the chain of causes, not
// just "conflict".
//
// The search is a depth-first backtracking over versions, newest first
// (a locked version before the others), with the derivation of every
// dead end kept for the explanation. It is not PubGrub's conflict-driven
// clause learning (N. Weizenbaum, "PubGrub: next-generation version
// solving", 2018; https://github.com/dart-lang/pub/blob/master/doc/solver.md),
// which a registry of plugins with a few dependencies each does not
// need; its explanations follow PubGrub's form: "Because A requires B ^1
// and you require B ^2, A cannot be used".
package resolve

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Candidate is one version of a plugin the index offers.
type Candidate struct {
	Version  string
	ABI      uint32
	Requires []Dependency
	Yanked   bool
}

// Dependency is a requirement of a plugin version on another plugin.
type Dependency struct {
	Name       string
	Constraint string // empty: any version
	Optional   bool   // constrains the plugin only when something else brings it in
}

// Index gives the versions of a plugin. A plugin it does not know has no
// versions (an empty list, not an error); an error stops the solve.
type Index interface {
	Versions(ctx context.Context, name string) ([]Candidate, error)
}

// Requirement is what the user asks for: a plugin, with a constraint.
type Requirement struct {
	Name       string
	Constraint string // empty: any version
}

// Options tune a solve.
type Options struct {
	// ABI is the ABI version the host speaks; a version built for another
	// is excluded.
	ABI uint32
	// Prefer maps plugin names to versions tried first (the locked ones),
	// so that an install keeps what is installed unless it must change.
	Prefer map[string]string
	// MaxSteps bounds the search. Default 100000.
	MaxSteps int
}

// Pick is a chosen version.
type Pick struct {
	Name string
	Candidate
}

// ErrTooHard is a search that exceeded Options.MaxSteps.
var ErrTooHard = errors.New("resolve: too many combinations tried; pin some versions")

// term is a constraint on a plugin, and who set it.
type term struct {
	constraint string
	c          *semver.Constraints // nil: any
	by         string              // "you", or "greeter 1.0.0"
}

func (t term) String() string {
	c := t.constraint
	if c == "" || c == "*" {
		c = "(any version)"
	}
	if t.by == you {
		return "you require " + "%s " + c
	}
	return t.by + " requires %s " + c
}

func (t term) describe(name string) string { return fmt.Sprintf(t.String(), name) }

const you = "you"

type solver struct {
	idx   Index
	opts  Options
	cache map[string][]Candidate
	terms map[string][]term
	pick  map[string]Candidate
	order []string // picked names, in order
	steps int
}

// Solve picks a version of every plugin reqs need, and of everything they
// require. The result is sorted by name. An impossible request is a
// [*ConflictError] whose message is the explanation.
func Solve(ctx context.Context, idx Index, reqs []Requirement, opts Options) ([]Pick, error) {
	if opts.MaxSteps == 0 {
		opts.MaxSteps = 100000
	}
	s := &solver{idx: idx, opts: opts, cache: map[string][]Candidate{}, terms: map[string][]term{}, pick: map[string]Candidate{}}
	var pending []string
	for _, r := range reqs {
		t, err := newTerm(r.Constraint, you)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Name, err)
		}
		s.terms[r.Name] = append(s.terms[r.Name], t)
		if !slices.Contains(pending, r.Name) {
			pending = append(pending, r.Name)
		}
	}
	if c := s.solve(ctx, pending); c != nil {
		if c.err != nil {
			return nil, c.err
		}
		return nil, &ConflictError{root: c}
	}
	out := make([]Pick, 0, len(s.pick))
	for _, n := range s.order {
		out = append(out, Pick{Name: n, Candidate: s.pick[n]})
	}
	slices.SortFunc(out, func(a, b Pick) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func newTerm(constraint, by string) (term, error) {
	t := term{constraint: constraint, by: by}
	if constraint == "" || constraint == "*" {
		return t, nil
	}
	c, err := semver.NewConstraint(constraint)
	if err != nil {
		return term{}, fmt.Errorf("constraint %q (from %s): %w", constraint, by, err)
	}
	t.c = c
	return t, nil
}

// failure is why a plugin could not be picked: the derivation of a dead
// end.
type failure struct {
	name     string
	terms    []term     // the requirements on it when it failed
	excluded []string   // each version and why it is out
	tried    []*attempt // the versions that fit, and how each failed further down
	err      error      // an index error or ErrTooHard: not a conflict
}

// attempt is one version tried and the failure it led to.
type attempt struct {
	version string
	direct  string   // its own requirement conflicts with a picked version
	cause   *failure // or a plugin after it could not be picked
}

func (s *solver) versions(ctx context.Context, name string) ([]Candidate, error) {
	if vs, ok := s.cache[name]; ok {
		return vs, nil
	}
	vs, err := s.idx.Versions(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("versions of %s: %w", name, err)
	}
	vs = slices.Clone(vs)
	slices.SortStableFunc(vs, func(a, b Candidate) int { return compare(b.Version, a.Version) })
	s.cache[name] = vs
	return vs, nil
}

func compare(a, b string) int {
	va, ea := semver.StrictNewVersion(a)
	vb, eb := semver.StrictNewVersion(b)
	if ea != nil || eb != nil {
		return strings.Compare(a, b)
	}
	return va.Compare(vb)
}

// solve picks the plugins in pending, and what they require, depth first;
// nil when every one is picked.
func (s *solver) solve(ctx context.Context, pending []string) *failure {
	for len(pending) > 0 && s.pick[pending[0]].Version != "" {
		pending = pending[1:]
	}
	if len(pending) == 0 {
		return nil
	}
	if s.steps++; s.steps > s.opts.MaxSteps {
		return &failure{err: ErrTooHard}
	}
	if err := ctx.Err(); err != nil {
		return &failure{err: err}
	}
	name, rest := pending[0], pending[1:]
	all, err := s.versions(ctx, name)
	if err != nil {
		return &failure{err: err}
	}
	f := &failure{name: name, terms: slices.Clone(s.terms[name])}
	var fits []Candidate
	for _, c := range all {
		if why := s.excludes(name, c); why != "" {
			f.excluded = append(f.excluded, c.Version+" ("+why+")")
			continue
		}
		fits = append(fits, c)
	}
	if p, ok := s.opts.Prefer[name]; ok {
		if i := slices.IndexFunc(fits, func(c Candidate) bool { return c.Version == p }); i > 0 {
			fits = append([]Candidate{fits[i]}, slices.Delete(slices.Clone(fits), i, i+1)...)
		}
	}
	for _, c := range fits {
		a := &attempt{version: c.Version}
		f.tried = append(f.tried, a)
		by := name + " " + c.Version
		var added []string
		next := slices.Clone(rest)
		ok := true
		for _, d := range c.Requires {
			t, err := newTerm(d.Constraint, by)
			if err != nil {
				a.direct = err.Error()
				ok = false
				break
			}
			if p := s.pick[d.Name]; p.Version != "" && !satisfies(t, p.Version) {
				a.direct = fmt.Sprintf("%s, but %s %s is already picked (%s)", t.describe(d.Name), d.Name, p.Version, s.whyPicked(d.Name))
				ok = false
				break
			}
			s.terms[d.Name] = append(s.terms[d.Name], t)
			added = append(added, d.Name)
			if !d.Optional && !slices.Contains(next, d.Name) {
				next = append(next, d.Name)
			}
		}
		if ok {
			s.pick[name] = c
			s.order = append(s.order, name)
			sub := s.solve(ctx, next)
			if sub == nil {
				return nil
			}
			if sub.err != nil {
				return sub
			}
			a.cause = sub
			delete(s.pick, name)
			s.order = s.order[:len(s.order)-1]
		}
		for _, n := range slices.Backward(added) {
			s.terms[n] = s.terms[n][:len(s.terms[n])-1]
		}
	}
	return f
}

// whyPicked says who required a picked plugin.
func (s *solver) whyPicked(name string) string {
	var by []string
	for _, t := range s.terms[name] {
		by = append(by, t.describe(name))
	}
	return strings.Join(by, "; ")
}

// excludes says why c is out for name, or "".
func (s *solver) excludes(name string, c Candidate) string {
	if c.Yanked {
		return "yanked"
	}
	if c.ABI != s.opts.ABI {
		return fmt.Sprintf("built for ABI %d; the host speaks %d", c.ABI, s.opts.ABI)
	}
	for _, t := range s.terms[name] {
		if !satisfies(t, c.Version) {
			return "excluded because " + t.describe(name)
		}
	}
	return ""
}

func satisfies(t term, version string) bool {
	if t.c == nil {
		return true
	}
	v, err := semver.StrictNewVersion(version)
	return err == nil && t.c.Check(v)
}

// ConflictError is a request no set of versions satisfies. Its message is
// the explanation: PubGrub-style lines, each a cause, ending in the
// conclusion.
type ConflictError struct {
	root *failure
}

// Plugin returns the plugin no version of which could be picked in the
// end: the first of the request's that failed.
func (e *ConflictError) Plugin() string { return e.root.name }

func (e *ConflictError) Error() string {
	var b strings.Builder
	b.WriteString("no set of plugin versions satisfies the request:\n")
	explain(&b, e.root, "  ")
	return strings.TrimRight(b.String(), "\n")
}

// explain writes f's derivation: the requirements on the plugin, the
// versions they exclude, and for each version that fit, the failure it led
// to.
func explain(b *strings.Builder, f *failure, indent string) {
	for _, t := range f.terms {
		fmt.Fprintf(b, "%sbecause %s,\n", indent, t.describe(f.name))
	}
	switch {
	case len(f.excluded) == 0 && len(f.tried) == 0:
		fmt.Fprintf(b, "%sand the registry has no version of %s, %s cannot be installed.\n", indent, f.name, f.name)
		return
	case len(f.excluded) > 0:
		fmt.Fprintf(b, "%sand %s %s,\n", indent, f.name, strings.Join(f.excluded, ", "))
	}
	for _, a := range f.tried {
		switch {
		case a.direct != "":
			fmt.Fprintf(b, "%sand because %s, %s %s cannot be used,\n", indent, a.direct, f.name, a.version)
		case a.cause != nil:
			fmt.Fprintf(b, "%s%s %s cannot be used:\n", indent, f.name, a.version)
			explain(b, a.cause, indent+"  ")
		}
	}
	fmt.Fprintf(b, "%sso no version of %s can be installed.\n", indent, f.name)
}
