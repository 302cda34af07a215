// Package draw draws a host's plugin graph and chains as DOT, Mermaid or
// SVG: the pictures of ply graph and of the admin page.
package draw

import (
	"cmp"
	"fmt"
	"html"
	"strings"

	"github.com/plykit/ply"
)

// Graph is what the three formats draw: plugins in lifecycle order, the
// edges between them, and each route's chain.
type Graph struct {
	nodes  []ply.Info
	index  map[string]int // ID -> position in nodes
	edges  []ply.Edge     // as the plan gives them: From comes first
	arrows []arrow        // as they are drawn, to read "from label to"
	chains []route
}

// arrow is an edge as drawn: "from requires to", "from part of to", "from
// before to".
type arrow struct {
	from, to int // positions in nodes
	label    string
}

// arrows turns the plan's edges, whose From comes first in the lifecycle,
// into arrows that read as sentences: a dependent requires its
// dependency, a child is part of its parent, a plugin runs before another.
func (g *Graph) arrowsOf() []arrow {
	out := make([]arrow, len(g.edges))
	for i, e := range g.edges {
		first, then := g.index[e.From.ID()], g.index[e.To.ID()]
		switch e.Kind {
		case "requires", "part of": // To requires From; To is a child of From
			out[i] = arrow{from: then, to: first, label: e.Kind}
		default:
			out[i] = arrow{from: first, to: then, label: e.Kind}
		}
	}
	return out
}

type route struct {
	name   string
	layers []string // plugin names, outermost first
}

// New returns the graph of plan: its plugins in lifecycle order, their
// edges, and the chain of each of chains.
func New(plan *ply.Plan, chains []*ply.Chain) *Graph {
	g := &Graph{nodes: plan.Order(ply.LifecycleOrder), index: make(map[string]int), edges: plan.Edges()}
	for i, n := range g.nodes {
		g.index[n.ID()] = i
	}
	g.arrows = g.arrowsOf()
	for _, ch := range chains {
		r := route{name: ch.Module().Name + ": " + ch.Handler().Name}
		for _, st := range ch.Explain().Steps {
			r.layers = append(r.layers, st.Plugin.Name)
		}
		g.chains = append(g.chains, r)
	}
	return g
}

func label(in ply.Info) string { return in.ID() + "\n" + band(in.Priority) }

// DOT draws the graph in Graphviz's language.
func (g *Graph) DOT(w *strings.Builder) {
	fmt.Fprintln(w, "digraph ply {")
	fmt.Fprintln(w, "  rankdir=LR;")
	fmt.Fprintln(w, `  node [shape=box, fontname="Helvetica"];`)
	for i, n := range g.nodes {
		fmt.Fprintf(w, "  p%d [label=%q];\n", i, label(n))
	}
	for _, a := range g.arrows {
		style := ""
		switch a.label {
		case "before":
			style = ", style=dashed"
		case "part of":
			style = ", style=dotted"
		}
		fmt.Fprintf(w, "  p%d -> p%d [label=%q%s];\n", a.from, a.to, a.label, style)
	}
	for i, r := range g.chains {
		fmt.Fprintf(w, "  subgraph cluster_r%d {\n    label=%q;\n", i, r.name)
		names := append(append([]string(nil), r.layers...), "handler")
		for j, n := range names {
			fmt.Fprintf(w, "    r%d_%d [label=%q, shape=%s];\n", i, j, n, map[bool]string{true: "ellipse", false: "box"}[j == len(names)-1])
		}
		for j := 1; j < len(names); j++ {
			fmt.Fprintf(w, "    r%d_%d -> r%d_%d;\n", i, j-1, i, j)
		}
		fmt.Fprintln(w, "  }")
	}
	fmt.Fprintln(w, "}")
}

// Mermaid draws the graph as a Mermaid flowchart.
func (g *Graph) Mermaid(w *strings.Builder) {
	fmt.Fprintln(w, "flowchart LR")
	for i, n := range g.nodes {
		fmt.Fprintf(w, "  p%d[\"%s<br/>%s\"]\n", i, n.ID(), band(n.Priority))
	}
	for _, a := range g.arrows {
		line := "-->"
		switch a.label {
		case "before":
			line = "-.->"
		case "part of":
			line = "==>"
		}
		fmt.Fprintf(w, "  p%d %s|%s| p%d\n", a.from, line, a.label, a.to)
	}
	for i, r := range g.chains {
		fmt.Fprintf(w, "  subgraph r%d[\"%s\"]\n", i, r.name)
		names := append(append([]string(nil), r.layers...), "handler")
		parts := make([]string, len(names))
		for j, n := range names {
			parts[j] = fmt.Sprintf("r%d_%d[\"%s\"]", i, j, n)
		}
		fmt.Fprintf(w, "    %s\n  end\n", strings.Join(parts, " --> "))
	}
}

// SVG draws the plugins in columns by dependency depth (a plugin sits one
// column right of its deepest dependency), edges as arrows, then one row
// per route with its chain.
func (g *Graph) SVG(w *strings.Builder) { g.StyledSVG(w, nil) }

// Style is how [Graph.StyledSVG] draws one plugin's box.
type Style struct {
	Fill, Stroke string // colours; empty: the defaults
	Title        string // a tooltip
	Attrs        string // extra attributes of the box's <g>, already escaped (data-plugin="…")
}

// StyledSVG is [Graph.SVG] with each plugin's box styled by style (nil:
// the defaults), as the admin page colours plugins by state.
func (g *Graph) StyledSVG(w *strings.Builder, style func(ply.Info) Style) {
	const boxH, gapX, gapY, pad, charW = 36, 60, 16, 20, 7
	depth := make([]int, len(g.nodes))
	for i := range g.nodes { // lifecycle order: dependencies come first
		for _, e := range g.edges {
			if e.Kind != "before" && g.index[e.To.ID()] == i {
				depth[i] = max(depth[i], depth[g.index[e.From.ID()]]+1)
			}
		}
	}
	colW := map[int]int{}
	for i, n := range g.nodes {
		colW[depth[i]] = max(colW[depth[i]], charW*len(n.ID())+2*pad)
	}
	colX := map[int]int{}
	x := pad
	for c := 0; ; c++ {
		wd, ok := colW[c]
		if !ok {
			break
		}
		colX[c], x = x, x+wd+gapX
	}
	rows := map[int]int{}
	type box struct{ x, y, w int }
	boxes := make([]box, len(g.nodes))
	height := 0
	for i := range g.nodes {
		c := depth[i]
		boxes[i] = box{colX[c], pad + rows[c]*(boxH+gapY), colW[c]}
		rows[c]++
		height = max(height, boxes[i].y+boxH)
	}
	width := max(x-gapX+pad, 200)
	chainY := height + 2*gapY
	for _, r := range g.chains {
		n := 0
		for _, l := range append(r.layers, "handler") {
			n += charW*len(l) + pad + gapY
		}
		width = max(width, charW*len(r.name)+n+3*pad)
	}
	total := chainY + len(g.chains)*(boxH+gapY) + pad
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="Helvetica, sans-serif" font-size="12">`+"\n", width, total)
	fmt.Fprintln(w, `<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>`)
	for _, ar := range g.arrows {
		a, b := boxes[ar.from], boxes[ar.to]
		dash := ""
		if ar.label == "before" {
			dash = ` stroke-dasharray="5,4"`
		}
		x1, x2 := a.x+a.w, b.x // left to right
		if b.x < a.x {
			x1, x2 = a.x, b.x+b.w // right to left: a dependent points back at its dependency
		}
		fmt.Fprintf(w, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#555"%s marker-end="url(#arrow)"><title>%s</title></line>`+"\n",
			x1, a.y+boxH/2, x2, b.y+boxH/2, dash, html.EscapeString(g.nodes[ar.from].Name+" "+ar.label+" "+g.nodes[ar.to].Name))
	}
	for i, n := range g.nodes {
		b := boxes[i]
		st := Style{Fill: "#eef3fb", Stroke: "#3b6db3"}
		if style != nil {
			s := style(n)
			st.Fill, st.Stroke, st.Title, st.Attrs = cmp.Or(s.Fill, st.Fill), cmp.Or(s.Stroke, st.Stroke), s.Title, s.Attrs
		}
		if st.Attrs != "" {
			st.Attrs = " " + st.Attrs
		}
		fmt.Fprintf(w, `<g%s><rect x="%d" y="%d" width="%d" height="%d" rx="6" fill="%s" stroke="%s"/>`, st.Attrs, b.x, b.y, b.w, boxH, st.Fill, st.Stroke)
		if st.Title != "" {
			fmt.Fprintf(w, `<title>%s</title>`, html.EscapeString(st.Title))
		}
		fmt.Fprintf(w, `<text x="%d" y="%d">%s</text><text x="%d" y="%d" fill="#666" font-size="10">%s</text></g>`+"\n",
			b.x+pad/2, b.y+15, html.EscapeString(n.ID()), b.x+pad/2, b.y+29, html.EscapeString(band(n.Priority)))
	}
	for i, r := range g.chains {
		y := chainY + i*(boxH+gapY)
		fmt.Fprintf(w, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", pad, y+boxH/2+4, html.EscapeString(r.name))
		cx := pad + charW*len(r.name) + pad
		for j, l := range append(append([]string(nil), r.layers...), "handler") {
			bw := charW*len(l) + pad
			if j > 0 {
				fmt.Fprintf(w, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#555" marker-end="url(#arrow)"/>`+"\n", cx-gapY, y+boxH/2, cx, y+boxH/2)
			}
			fmt.Fprintf(w, `<rect x="%d" y="%d" width="%d" height="%d" rx="%d" fill="#fff7e6" stroke="#b3803b"/><text x="%d" y="%d">%s</text>`+"\n",
				cx, y, bw, boxH, map[bool]int{true: 18, false: 6}[l == "handler"], cx+pad/2, y+boxH/2+4, html.EscapeString(l))
			cx += bw + gapY
		}
	}
	fmt.Fprintln(w, "</svg>")
}

func band(p int) string {
	if p == 0 {
		p = ply.Business
	}
	if n := ply.Band(p); n != "" {
		return fmt.Sprintf("%s %d", n, p)
	}
	return fmt.Sprint(p)
}
