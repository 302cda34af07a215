package options

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"

	"github.com/plykit/ply/option"
)

// envRef matches "$${" (a literal "${") or a reference "${NAME}".
var envRef = regexp.MustCompile(`\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces ${NAME} references in the scalar values under n (not in
// keys, and never in comments, which the parser has dropped) with
// env(NAME), and $${ with ${. A plain scalar that is one reference and
// nothing else takes the type of what it becomes, as if it had been written
// there: "port: ${PORT}" with PORT=8080 is an integer; quoted scalars stay
// strings. It returns a problem, with the value's position and its path
// relative to scope, for each variable env does not know in a value under
// scope (nil: none).
func expandEnv(n, scope ast.Node, env func(string) (string, bool)) []*option.Error {
	var problems []*option.Error
	expand := func(v ast.Node) ast.Node {
		s, ok := scalarString(v)
		if !ok || !strings.Contains(s, "${") {
			return v
		}
		var missing []string
		out := envRef.ReplaceAllStringFunc(s, func(ref string) string {
			if ref == "$${" {
				return "${"
			}
			name := ref[2 : len(ref)-1]
			val, ok := env(name)
			if !ok {
				missing = append(missing, name)
			}
			return val
		})
		for _, name := range missing {
			segs, found := pathOfToken(scope, v.GetToken(), nil)
			if !found {
				continue
			}
			line, col := position(v)
			path := formatPath(segs)
			problems = append(problems, &option.Error{Field: path, Line: line, Column: col, Problem: fmt.Sprintf(
				"environment variable %s is not set; export it, or write $${%s} for a literal ${%s}", name, name, name)})
		}
		return scalarNode(v, s, out)
	}
	if n == nil {
		return nil
	}
	n2 := expand(n)
	if n2 != n {
		return problems // the options are one scalar: the schema will say it is not a mapping
	}
	rewriteValues(n, expand)
	return problems
}

// scalarString is the text of a string scalar, plain, quoted or block.
func scalarString(n ast.Node) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		if v.Value != nil {
			return v.Value.Value, true
		}
	}
	return "", false
}

// scalarNode returns the node that stands for text in the place of n, whose
// text was orig: n itself when nothing changed, a node of the type the text
// reads as when n is a plain scalar that was one reference, else a string.
func scalarNode(n ast.Node, orig, text string) ast.Node {
	if text == orig {
		return n
	}
	tk := n.GetToken()
	pos := tk.Position
	if lit, ok := n.(*ast.LiteralNode); ok {
		value := *lit.Value
		vt := *lit.Value.Token
		vt.Value = text
		value.Token, value.Value = &vt, text
		out := *lit
		out.Value = &value
		return &out
	}
	if tk.Type == token.StringType && envRef.FindString(orig) == orig && orig != "$${" {
		typed := token.New(text, text, pos)
		switch typed.Type {
		case token.NullType:
			return ast.Null(typed)
		case token.BoolType:
			return ast.Bool(typed)
		case token.IntegerType, token.BinaryIntegerType, token.OctetIntegerType, token.HexIntegerType:
			return ast.Integer(typed)
		case token.FloatType:
			return ast.Float(typed)
		case token.InfinityType:
			return ast.Infinity(typed)
		case token.NanType:
			return ast.Nan(typed)
		}
	}
	st := *tk
	st.Value = text
	if st.Type == token.StringType {
		st.Type = token.DoubleQuoteType // text with a reference in it is a string, even "1${N}"
	}
	return ast.String(&st)
}
