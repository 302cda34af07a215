package ply

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/plykit/ply/internal/graph"
)

// Plan is the resolved order of a host's plugins, as [Host.Plan] built it.
type Plan struct {
	r *resolved
	h *Host // for the tenants' plans ([Plan.Tenant]); nil in a plan of a preview's chains
}

// OrderKind selects one of a plan's two orders.
type OrderKind int

const (
	// LifecycleOrder is the order of Provision and Start: dependencies
	// first, then priority, then registration. Stop runs in reverse.
	LifecycleOrder OrderKind = iota
	// ChainOrder is the order of layers, outermost first: Before/After
	// constraints first, then priority, then registration. Dependencies
	// do not move a layer.
	ChainOrder
)

func (k OrderKind) String() string {
	if k == ChainOrder {
		return "chain"
	}
	return "lifecycle"
}

// Order returns the plugins' Info (with effective priorities) in the given
// order.
func (p *Plan) Order(kind OrderKind) []Info {
	es := p.entries(kind)
	out := make([]Info, len(es))
	for i, e := range es {
		out[i] = e.info
	}
	return out
}

func (p *Plan) entries(kind OrderKind) []*entry {
	if kind == ChainOrder {
		return p.r.chain
	}
	return p.r.lifecycle
}

func (p *Plan) order(kind OrderKind) *graph.Order {
	if kind == ChainOrder {
		return p.r.chainOrd
	}
	return p.r.lifeOrder
}

// Placement is one plugin's place in an order and why it follows the one
// before it.
type Placement struct {
	Plugin Info
	Reason string // empty for the first
	// Layer and After say what the plugin contributes to a handler's chain
	// (set only in [Chain.Explain]).
	Layer, After bool
}

// Explanation is an order with the reason for each adjacent pair.
type Explanation struct {
	Kind    OrderKind
	Handler string // "module/handler" for [Chain.Explain]
	Steps   []Placement
	// Tenant and Versions are set by [Host.ExplainTenant]: the tenant, and
	// which version of each plugin with several serves it, and why.
	Tenant   string          `json:",omitempty"`
	Versions []VersionChoice `json:",omitempty"`
}

// String renders the explanation as a numbered list:
//
//	chain order:
//	  1. recover@1.0.0       system 50
//	  2. auth@2.1.0          security 100   priority 50 (system) < 100 (security)
func (x Explanation) String() string {
	var b strings.Builder
	if x.Handler != "" {
		b.WriteString("chain of " + x.Handler + tenantSuffix(x.Tenant) + ":\n")
	} else {
		b.WriteString(x.Kind.String() + " order" + tenantSuffix(x.Tenant) + ":\n")
	}
	width := 0
	for _, s := range x.Steps {
		width = max(width, len(s.Plugin.ID()))
	}
	for i, s := range x.Steps {
		prio := strconv.Itoa(s.Plugin.Priority)
		if band := Band(s.Plugin.Priority); band != "" {
			prio = band + " " + prio
		}
		if x.Handler != "" {
			prio += contributes(s)
		}
		if s.Plugin.Lazy {
			prio += " lazy"
		}
		line := fmt.Sprintf("%3d. %-*s  %-16s %s", i+1, width, s.Plugin.ID(), prio, s.Reason)
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	writeVersions(&b, x.Versions)
	return b.String()
}

// Explain returns the given order with the reason each plugin follows the
// previous one.
func (p *Plan) Explain(kind OrderKind) Explanation {
	es := p.entries(kind)
	x := Explanation{Kind: kind, Steps: make([]Placement, len(es))}
	for i, e := range es {
		x.Steps[i].Plugin = e.info
		if i > 0 {
			x.Steps[i].Reason = p.reason(kind, p.order(kind).Why(es[i-1].index, e.index))
		}
	}
	return x
}

// Why says why plugin a precedes plugin b in the given order; a and b are
// names, or IDs ("auth@2.0.0") when several versions are registered. It
// returns an error when either is unknown or a does not precede b.
func (p *Plan) Why(kind OrderKind, a, b string) (string, error) {
	ea, err := p.find(a)
	if err != nil {
		return "", err
	}
	eb, err := p.find(b)
	if err != nil {
		return "", err
	}
	steps := p.order(kind).Why(ea.index, eb.index)
	if steps == nil {
		return "", fmt.Errorf("ply: %s does not precede %s in the %s order", a, b, kind)
	}
	return p.r.label(ea) + " precedes " + p.r.label(eb) + ": " + p.reason(kind, steps), nil
}

func (p *Plan) find(ref string) (*entry, error) {
	name, version, _ := strings.Cut(ref, "@")
	es := p.r.byName[name]
	if version != "" {
		i := slices.IndexFunc(es, func(e *entry) bool { return e.info.Version == version })
		if i < 0 {
			return nil, fmt.Errorf("ply: %s: %w", ref, ErrNotRegistered)
		}
		return es[i], nil
	}
	switch len(es) {
	case 0:
		return nil, fmt.Errorf("ply: %s: %w", ref, ErrNotRegistered)
	case 1:
		return es[0], nil
	}
	return nil, fmt.Errorf("ply: %s is registered in versions %s; name one as %s@VERSION", ref, strings.Join(versionsOf(es), ", "), ref)
}

// reason renders a chain of steps: "a requires b; then ...".
func (p *Plan) reason(kind OrderKind, steps []graph.Step) string {
	parts := make([]string, len(steps))
	for i, s := range steps {
		from, to := p.r.entries[s.From], p.r.entries[s.To]
		var why string
		switch s.Kind {
		case graph.Edge:
			why = p.edgeReason(kind, from, to)
		case graph.Priority:
			why = "priority " + prioName(from.info.Priority) + " < " + prioName(to.info.Priority)
		case graph.Registration:
			why = fmt.Sprintf("same priority %s, registered earlier (#%d < #%d)", prioName(from.info.Priority), from.index+1, to.index+1)
		}
		if len(steps) > 1 {
			why = p.r.label(from) + " before " + p.r.label(to) + " (" + why + ")"
		}
		parts[i] = why
	}
	return strings.Join(parts, "; then ")
}

func (p *Plan) edgeReason(kind OrderKind, from, to *entry) string {
	if kind == ChainOrder {
		if slices.Contains(from.info.Before, to.info.Name) {
			return fmt.Sprintf("%s declares Before(%q)", p.r.label(from), to.info.Name)
		}
		return fmt.Sprintf("%s declares After(%q)", p.r.label(to), from.info.Name)
	}
	for _, d := range to.info.Requires {
		if d.Name == from.info.Name {
			return strings.TrimSpace(p.r.label(to) + " requires " + from.info.Name + " " + d.Constraint)
		}
	}
	if to.parent == from {
		return p.r.label(to) + " is part of composite " + p.r.label(from)
	}
	return p.r.label(to) + " follows its sibling " + p.r.label(from) + " in composite " + p.r.label(to.parent)
}

func prioName(prio int) string {
	if band := Band(prio); band != "" {
		return strconv.Itoa(prio) + " (" + band + ")"
	}
	return strconv.Itoa(prio)
}

func contributes(p Placement) string {
	switch {
	case p.Layer && p.After:
		return " +after"
	case p.After:
		return " after-only"
	}
	return ""
}

func sortEntries(es []*entry, pos func(*entry) int) {
	slices.SortFunc(es, func(a, b *entry) int { return pos(a) - pos(b) })
}

// Edge is one ordering fact between two plugins.
type Edge struct {
	From, To Info   // From comes first
	Kind     string // "requires" (To requires From), "part of" (To is a child of From), "before" (a Before/After constraint)
}

// Edges returns the plan's dependency and composite edges (which order the
// lifecycle) and its Before/After edges (which order the chain), in
// registration order.
func (p *Plan) Edges() []Edge {
	var out []Edge
	for _, e := range p.r.entries {
		for _, d := range e.deps {
			out = append(out, Edge{From: d.info, To: e.info, Kind: "requires"})
		}
		if e.parent != nil {
			out = append(out, Edge{From: e.parent.info, To: e.info, Kind: "part of"})
		}
		for _, name := range e.info.Before {
			for _, o := range p.r.byName[name] {
				out = append(out, Edge{From: e.info, To: o.info, Kind: "before"})
			}
		}
		for _, name := range e.info.After {
			for _, o := range p.r.byName[name] {
				out = append(out, Edge{From: o.info, To: e.info, Kind: "before"})
			}
		}
	}
	return out
}
