package options

import (
	"fmt"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"

	"github.com/plykit/ply/option"
)

// Limits that keep a hostile document from exhausting memory or time. The
// YAML parser's work grows with the square of the nesting depth, and an
// alias repeats its anchor's whole value wherever it appears: ten nested
// anchors of ten aliases each ("billion laughs") stand for 10^10 values in
// a few hundred bytes.
const (
	// MaxDepth is how deeply collections may nest, in levels (flow) or
	// columns of indentation (block).
	MaxDepth = 1000
	// MaxAliasNodes is how many values aliases may add to a document once
	// expanded.
	MaxAliasNodes = 100_000
)

// checkDepth reports the first token nested deeper than MaxDepth: by flow
// brackets, or, in block context, by the indentation of a line or the
// column of a "- " (block nesting takes at least one more column per
// level). It runs on the tokens, before the parser, whose time grows with
// the square of the depth.
func checkDepth(tokens token.Tokens) *option.Error {
	flow, line := 0, 0
	for _, tk := range tokens {
		if tk.Position == nil || tk.Type == token.CommentType {
			continue
		}
		first := tk.Position.Line != line
		line = tk.Position.Line
		deep := false
		switch tk.Type {
		case token.SequenceStartType, token.MappingStartType:
			flow++
			deep = flow > MaxDepth
		case token.SequenceEndType, token.MappingEndType:
			flow = max(flow-1, 0)
		case token.SequenceEntryType:
			deep = flow == 0 && tk.Position.Column > MaxDepth
		}
		if deep || first && flow == 0 && tk.Position.Column > MaxDepth {
			return &option.Error{Line: tk.Position.Line, Column: tk.Position.Column, Problem: fmt.Sprintf(
				"is nested too deeply (more than %d levels or columns of indentation); flatten the document", MaxDepth)}
		}
	}
	return nil
}

// checkAliases reports the alias at which the values that aliases add to
// the document exceed MaxAliasNodes, or an alias inside its own anchor.
// Each anchored value's size is computed once, so the check takes time in
// proportion to the document as written.
func (d *document) checkAliases() *option.Error {
	a := aliasCounter{d: d, size: map[ast.Node]int{}, open: map[ast.Node]bool{}}
	a.count(d.body)
	return a.problem
}

type aliasCounter struct {
	d       *document
	size    map[ast.Node]int  // expanded size of anchored values
	open    map[ast.Node]bool // anchored values being sized
	added   int               // values added by aliases so far
	problem *option.Error
}

// count returns the number of values under n with aliases expanded,
// saturating above MaxAliasNodes.
func (a *aliasCounter) count(n ast.Node) int {
	if n == nil || a.problem != nil {
		return 0
	}
	switch v := n.(type) {
	case *ast.AliasNode:
		target := a.d.resolve(v)
		if target == nil {
			return 1 // reported by the builder, if it matters
		}
		if a.open[target] {
			line, col := position(v)
			a.problem = &option.Error{Line: line, Column: col, Problem: fmt.Sprintf(
				"alias *%s is inside its own anchor; a value cannot contain itself", v.Value)}
			return 0
		}
		s := a.sizeOf(target)
		a.added += s
		if a.added > MaxAliasNodes && a.problem == nil {
			line, col := position(v)
			a.problem = &option.Error{Line: line, Column: col, Problem: fmt.Sprintf(
				"aliases expand the document by more than %d values; write fewer nested aliases", MaxAliasNodes)}
		}
		return s
	case *ast.AnchorNode:
		return a.sizeOf(v.Value)
	}
	total := 1
	for _, c := range children(n) {
		total = min(total+a.count(c), MaxAliasNodes+1)
	}
	return total
}

// sizeOf counts an anchored value once; later aliases reuse its size.
func (a *aliasCounter) sizeOf(n ast.Node) int {
	if s, ok := a.size[n]; ok {
		return s
	}
	a.open[n] = true
	s := a.count(n)
	delete(a.open, n)
	a.size[n] = s
	return s
}

// children returns the nodes directly under n: keys and values of a
// mapping, items of a list, the value of an anchor or tag.
func children(n ast.Node) []ast.Node {
	switch v := n.(type) {
	case *ast.MappingNode:
		out := make([]ast.Node, 0, 2*len(v.Values))
		for _, e := range v.Values {
			out = append(out, e.Key, e.Value)
		}
		return out
	case *ast.MappingValueNode:
		return []ast.Node{v.Key, v.Value}
	case *ast.MappingKeyNode:
		return []ast.Node{v.Value}
	case *ast.SequenceNode:
		return v.Values
	case *ast.AnchorNode:
		return []ast.Node{v.Value}
	case *ast.TagNode:
		return []ast.Node{v.Value}
	}
	return nil
}

// rewriteValues calls f on every value under n (not keys), parents before
// children, and puts f's result in the value's place; f returns its
// argument to leave a value as it is. Aliases are not followed.
func rewriteValues(n ast.Node, f func(ast.Node) ast.Node) {
	switch v := n.(type) {
	case *ast.MappingNode:
		for _, e := range v.Values {
			rewriteValues(e, f)
		}
	case *ast.MappingValueNode:
		if v.Value != nil {
			v.Value = f(v.Value)
			rewriteValues(v.Value, f)
		}
	case *ast.SequenceNode:
		for i, e := range v.Values {
			v.Values[i] = f(e)
			if i < len(v.Entries) && v.Entries[i] != nil {
				v.Entries[i].Value = v.Values[i]
			}
			rewriteValues(v.Values[i], f)
		}
	case *ast.AnchorNode:
		v.Value = f(v.Value)
		rewriteValues(v.Value, f)
	case *ast.TagNode:
		v.Value = f(v.Value)
		rewriteValues(v.Value, f)
	}
}
