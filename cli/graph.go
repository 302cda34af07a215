package cli

import (
	"fmt"
	"html"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/plykit/ply"
)

func (a *app) graphCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "graph FILE",
		Short: "Print the plugin graph and each route's chain as DOT, Mermaid or SVG",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			plan, chains, err := a.preview(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			g := newGraph(plan, chains)
			switch format {
			case "dot":
				g.dot(cmd.OutOrStdout())
			case "mermaid":
				g.mermaid(cmd.OutOrStdout())
			case "svg":
				g.svg(cmd.OutOrStdout())
			default:
				return fmt.Errorf("%w: --format %q: want dot, mermaid or svg", errUsage, format)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "dot", "dot, mermaid or svg")
	return cmd
}

// graph is what the three formats draw: plugins in lifecycle order, the
// edges between them, and each route's chain.
type graph struct {
	nodes  []ply.Info
	index  map[string]int // ID -> position in nodes
	edges  []ply.Edge
	chains []route
}

type route struct {
	name   string
	layers []string // plugin names, outermost first
}

func newGraph(plan *ply.Plan, chains []*ply.Chain) *graph {
	g := &graph{nodes: plan.Order(ply.LifecycleOrder), index: make(map[string]int), edges: plan.Edges()}
	for i, n := range g.nodes {
		g.index[n.ID()] = i
	}
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

func (g *graph) dot(w io.Writer) {
	fmt.Fprintln(w, "digraph ply {")
	fmt.Fprintln(w, "  rankdir=LR;")
	fmt.Fprintln(w, `  node [shape=box, fontname="Helvetica"];`)
	for i, n := range g.nodes {
		fmt.Fprintf(w, "  p%d [label=%q];\n", i, label(n))
	}
	for _, e := range g.edges {
		style := ""
		switch e.Kind {
		case "before":
			style = ", style=dashed"
		case "part of":
			style = ", style=dotted"
		}
		fmt.Fprintf(w, "  p%d -> p%d [label=%q%s];\n", g.index[e.From.ID()], g.index[e.To.ID()], e.Kind, style)
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

func (g *graph) mermaid(w io.Writer) {
	fmt.Fprintln(w, "flowchart LR")
	for i, n := range g.nodes {
		fmt.Fprintf(w, "  p%d[\"%s<br/>%s\"]\n", i, n.ID(), band(n.Priority))
	}
	for _, e := range g.edges {
		arrow := "-->"
		switch e.Kind {
		case "before":
			arrow = "-.->"
		case "part of":
			arrow = "==>"
		}
		fmt.Fprintf(w, "  p%d %s|%s| p%d\n", g.index[e.From.ID()], arrow, e.Kind, g.index[e.To.ID()])
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

// svg draws the plugins in columns by dependency depth (a plugin sits one
// column right of its deepest dependency), edges as arrows, then one row
// per route with its chain.
func (g *graph) svg(w io.Writer) {
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
	for _, e := range g.edges {
		a, b := boxes[g.index[e.From.ID()]], boxes[g.index[e.To.ID()]]
		dash := ""
		if e.Kind == "before" {
			dash = ` stroke-dasharray="5,4"`
		}
		fmt.Fprintf(w, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#555"%s marker-end="url(#arrow)"><title>%s</title></line>`+"\n",
			a.x+a.w, a.y+boxH/2, b.x, b.y+boxH/2, dash, html.EscapeString(e.From.Name+" "+e.Kind+" "+e.To.Name))
	}
	for i, n := range g.nodes {
		b := boxes[i]
		fmt.Fprintf(w, `<g><rect x="%d" y="%d" width="%d" height="%d" rx="6" fill="#eef3fb" stroke="#3b6db3"/>`, b.x, b.y, b.w, boxH)
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
