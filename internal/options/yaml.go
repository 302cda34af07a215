package options

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"weak"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/plykit/ply/option"
)

// document is a parsed Source with its options node located.
type document struct {
	body    ast.Node            // root of the first document; nil when the file is empty; shared, never changed
	node    ast.Node            // a copy of the options node, aliases copied in; nil when absent or null
	nearest ast.Node            // the deepest node found on the way to Source.Path, for positions when node is nil
	anchors map[string]ast.Node // anchored values of the whole document, by anchor name
	env     []*option.Error     // variables that Source.Env does not know, in the options
	parsed  *parsed             // what body comes from; holding it keeps it in the cache
}

// parseSource parses src and finds its options node. Its problems are
// syntax errors, a document over the limits (see [MaxDepth] and
// [MaxAliasNodes]), a bad Source.Path, or a node on the way to the options
// that is not a mapping or list; with any of them, nothing can be decoded.
// Unknown environment variables are not among them: they are in d.env.
func parseSource(src Source) (*document, []*option.Error) {
	segs, err := parseYAMLPath(src.Path)
	if err != nil {
		return nil, []*option.Error{{Problem: err.Error()}}
	}
	p := parse(src.Data)
	if p.problem != nil {
		return nil, []*option.Error{clone(p.problem)}
	}
	d := &document{body: p.body, anchors: p.anchors, parsed: p}
	if d.body == nil {
		return d, nil
	}

	n, yamlPath := d.body, "$"
	d.nearest = d.body
	for _, s := range segs {
		r := d.resolve(n)
		if isNull(r) {
			n = nil
			break
		}
		child, entry, found, ok := d.child(r, s)
		if !ok {
			want := "a mapping"
			if s.isIndex() {
				want = "a list"
			}
			line, col := position(r)
			return nil, []*option.Error{{Line: line, Column: col, Problem: fmt.Sprintf(
				"%s must be %s that holds the options, got %s", yamlPath, want, describe(r, ""))}}
		}
		if !found {
			n = nil
			break
		}
		n = child
		d.nearest = child
		if entry != nil {
			d.nearest = entry // its key says best where a missing node belongs
		}
		if s.isIndex() {
			yamlPath += "[" + strconv.Itoa(s.index) + "]"
		} else {
			yamlPath += "." + s.key
		}
	}
	if n == nil || isNull(d.resolve(n)) {
		return d, nil
	}
	// The parsed document is shared: the options get their own copy, with
	// the values of their aliases copied in, to substitute and prune.
	d.node = d.clone(n)
	if src.Env != nil {
		d.env = expandEnv(d.node, d.node, src.Env)
	}
	return d, nil
}

// clone copies the collections under n, so that their values can be
// replaced, and puts a copy of an alias's value in its place. Scalars,
// keys and tokens are shared: they are never changed in place. The copy
// is bounded: parse refused documents whose aliases expand too far, or
// contain themselves.
func (d *document) clone(n ast.Node) ast.Node {
	switch v := n.(type) {
	case *ast.AliasNode:
		if t := d.resolve(v); t != nil {
			return d.clone(t)
		}
		return v // reported by the builder
	case *ast.AnchorNode:
		c := *v
		c.Value = d.clone(v.Value)
		return &c
	case *ast.TagNode:
		c := *v
		c.Value = d.clone(v.Value)
		return &c
	case *ast.MappingNode:
		c := *v
		c.Values = make([]*ast.MappingValueNode, len(v.Values))
		for i, e := range v.Values {
			c.Values[i] = d.clone(e).(*ast.MappingValueNode)
		}
		return &c
	case *ast.MappingValueNode:
		c := *v
		c.Value = d.clone(v.Value)
		return &c
	case *ast.SequenceNode:
		c := *v
		c.Values = make([]ast.Node, len(v.Values))
		for i, e := range v.Values {
			c.Values[i] = d.clone(e)
		}
		c.Entries = make([]*ast.SequenceEntryNode, len(v.Entries))
		for i, e := range v.Entries {
			ce := *e
			if i < len(c.Values) {
				ce.Value = c.Values[i]
			}
			c.Entries[i] = &ce
		}
		return &c
	}
	return n
}

// parsed is a parsed document, shared by every Load of the same bytes: a
// host loads each plugin's options, and each module's and route's, from
// one file, and parsing it each time would take time in proportion to
// the square of its size. It is never changed after parse.
type parsed struct {
	data    []byte              // a copy of what was parsed, to recognize it
	body    ast.Node            // root of the first document; nil when empty
	anchors map[string]ast.Node // anchored values, by anchor name
	problem *option.Error       // why nothing can be decoded from it
}

// last is the last parsed document, held weakly: it lives while a
// Document made from it does (the config loader keeps one while the host
// loads every plugin's options), and the collector may take it afterwards.
var last struct {
	sync.Mutex
	p weak.Pointer[parsed]
}

// parse parses data, or returns the document parsed last if data is the
// same.
func parse(data []byte) *parsed {
	last.Lock()
	p := last.p.Value()
	last.Unlock()
	if p != nil && bytes.Equal(p.data, data) {
		return p
	}
	p = &parsed{data: bytes.Clone(data), anchors: map[string]ast.Node{}}
	f, problem := parseBytes(data)
	switch {
	case problem != nil:
		p.problem = problem
	default:
		for _, doc := range f.Docs {
			if doc.Body != nil {
				p.body = doc.Body
				break
			}
		}
		if p.body != nil {
			ast.Walk(anchorCollector(p.anchors), p.body)
			d := &document{body: p.body, anchors: p.anchors}
			p.problem = d.checkAliases()
		}
	}
	last.Lock()
	last.p = weak.Make(p)
	last.Unlock()
	return p
}

// parseBytes parses YAML or JSON. Duplicate keys are left for the builder, which
// reports them all with their paths.
func parseBytes(data []byte) (f *ast.File, problem *option.Error) {
	defer func() {
		if r := recover(); r != nil { // a parser bug must not take the host down
			f, problem = nil, &option.Error{Problem: fmt.Sprintf("syntax error: cannot parse: %v", r)}
		}
	}()
	tokens := lexer.Tokenize(string(data))
	if p := checkDepth(tokens); p != nil {
		return nil, p
	}
	f, err := parser.Parse(tokens, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		return nil, syntaxProblem(err)
	}
	return f, nil
}

func syntaxProblem(err error) *option.Error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		line, col := tokenPosition(ye.GetToken())
		return &option.Error{Line: line, Column: col, Problem: "syntax error: " + lowerFirst(ye.GetMessage())}
	}
	return &option.Error{Problem: "syntax error: " + lowerFirst(err.Error())}
}

// parseYAMLPath reads the subset of goccy/go-yaml's YAML paths that names one node:
// "$", ".key", ".'quoted.key'" (with \ escapes) and "[index]".
func parseYAMLPath(p string) ([]segment, error) {
	if p == "" || p == "$" {
		return nil, nil
	}
	bad := func(why string) error { return fmt.Errorf("invalid options path %q: %s", p, why) }
	if p[0] != '$' {
		return nil, bad(`must start with "$"`)
	}
	var segs []segment
	for i := 1; i < len(p); {
		switch p[i] {
		case '.':
			i++
			if i < len(p) && p[i] == '\'' {
				var b strings.Builder
				for i++; ; i++ {
					if i >= len(p) {
						return nil, bad("missing closing quote")
					}
					if p[i] == '\\' && i+1 < len(p) {
						i++
					} else if p[i] == '\'' {
						break
					}
					b.WriteByte(p[i])
				}
				i++
				segs = append(segs, keySeg(b.String()))
				continue
			}
			end := strings.IndexAny(p[i:], ".['*")
			if end < 0 {
				end = len(p) - i
			}
			if end == 0 {
				return nil, bad("empty key")
			}
			segs = append(segs, keySeg(p[i:i+end]))
			i += end
		case '[':
			end := strings.IndexByte(p[i:], ']')
			if end < 0 {
				return nil, bad("missing ]")
			}
			n, err := strconv.Atoi(p[i+1 : i+end])
			if err != nil || n < 0 {
				return nil, bad("index must be a number")
			}
			segs = append(segs, indexSeg(n))
			i += end + 1
		default:
			return nil, bad(fmt.Sprintf("unexpected %q", p[i]))
		}
	}
	return segs, nil
}

// anchorCollector records every anchored value.
type anchorCollector map[string]ast.Node

func (c anchorCollector) Visit(n ast.Node) ast.Visitor {
	if a, ok := n.(*ast.AnchorNode); ok && a.Name != nil && a.Name.GetToken() != nil {
		if _, dup := c[a.Name.GetToken().Value]; !dup {
			c[a.Name.GetToken().Value] = a.Value
		}
	}
	return c
}

// resolve follows anchors and aliases to the node that holds the value. It returns
// nil for an alias to an unknown anchor.
func (d *document) resolve(n ast.Node) ast.Node {
	for range 100 { // an anchor's value is never itself an alias; this only bounds bad input
		switch a := n.(type) {
		case *ast.AnchorNode:
			n = a.Value
		case *ast.AliasNode:
			if a.Value == nil || a.Value.GetToken() == nil {
				return nil
			}
			n = d.anchors[a.Value.GetToken().Value]
		default:
			return n
		}
	}
	return nil
}

// child returns the value at s in n (a resolved node) and, for a key, its entry
// in the mapping. ok is false when n is not a mapping (for a key) or a list (for an
// index); found is false when the key or index is absent. A numeric key also
// selects an item of a list, so that paths written as "servers.2.url" work. Keys
// merged in with "<<" are found too.
func (d *document) child(n ast.Node, s segment) (child ast.Node, entry *ast.MappingValueNode, found, ok bool) {
	if seq, isSeq := n.(*ast.SequenceNode); isSeq {
		i := s.index
		if !s.isIndex() {
			var err error
			if i, err = strconv.Atoi(s.key); err != nil {
				return nil, nil, false, false
			}
		}
		if i < 0 || i >= len(seq.Values) {
			return nil, nil, false, true
		}
		return seq.Values[i], nil, true, true
	}
	entries, isMap := mappingEntries(n)
	if !isMap {
		return nil, nil, false, false
	}
	key := s.key
	if s.isIndex() {
		key = strconv.Itoa(s.index)
	}
	for _, e := range entries {
		if k, ok := keyText(e.Key); ok && k == key {
			return e.Value, e, true, true
		}
	}
	for _, e := range entries { // explicit keys win over merged ones
		if _, isMerge := e.Key.(*ast.MergeKeyNode); !isMerge {
			continue
		}
		for _, m := range d.mergeSources(e.Value) {
			if c, entry, found, _ := d.child(m, s); found {
				return c, entry, true, true
			}
		}
	}
	return nil, nil, false, true
}

// mergeSources returns the mappings that a "<<" key merges in: one mapping or a
// list of them.
func (d *document) mergeSources(n ast.Node) []ast.Node {
	n = d.resolve(n)
	if seq, ok := n.(*ast.SequenceNode); ok {
		var ms []ast.Node
		for _, v := range seq.Values {
			if m := d.resolve(v); isMapping(m) {
				ms = append(ms, m)
			}
		}
		return ms
	}
	if isMapping(n) {
		return []ast.Node{n}
	}
	return nil
}

// lookup returns the node at segs under n, or, when the path runs out of the
// document, the deepest node found on the way and found == false.
func (d *document) lookup(n ast.Node, segs []segment) (node ast.Node, found bool) {
	for _, s := range segs {
		c, _, ok, _ := d.child(d.resolve(n), s)
		if !ok {
			return n, false
		}
		n = c
	}
	return n, true
}

func mappingEntries(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch m := n.(type) {
	case *ast.MappingNode:
		return m.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{m}, true
	}
	return nil, false
}

func isMapping(n ast.Node) bool {
	_, ok := mappingEntries(n)
	return ok
}

func isNull(n ast.Node) bool {
	_, ok := n.(*ast.NullNode)
	return n == nil || ok
}

// keyText returns the text of a scalar mapping key; ok is false for keys that are
// not scalars (mappings, lists, merge keys).
func keyText(k ast.Node) (string, bool) {
	if mk, ok := k.(*ast.MappingKeyNode); ok { // "? key"
		k = mk.Value
	}
	switch k := k.(type) {
	case *ast.StringNode:
		return k.Value, true
	case *ast.LiteralNode:
		return k.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NullNode, *ast.InfinityNode, *ast.NanNode:
		if tk := k.GetToken(); tk != nil {
			return tk.Value, true
		}
	}
	return "", false
}

// position is where a node starts: the first key of a block mapping, the
// opening bracket of a flow collection, the dash of a block list, the scalar.
func position(n ast.Node) (line, col int) {
	if n == nil {
		return 0, 0
	}
	switch m := n.(type) {
	case *ast.MappingNode:
		if !m.IsFlowStyle && len(m.Values) > 0 {
			return position(m.Values[0])
		}
	case *ast.MappingValueNode:
		return position(m.Key)
	case *ast.MappingKeyNode:
		return tokenPosition(m.Start)
	}
	return tokenPosition(n.GetToken())
}

// describe names what a node holds, for messages. It never repeats a
// string from the file (a string may be a secret, and a message may end up
// in a log): strings are "a string". Numbers and booleans are shown as
// written, except under a path that names a secret (see secret).
func describe(n ast.Node, path string) string {
	switch v := n.(type) {
	case nil:
		return "nothing"
	case *ast.StringNode:
		if s, ok := plainNumber(v); ok && !secret(path) {
			return truncate(s)
		}
		if _, ok := plainNumber(v); ok {
			return "a number"
		}
		return "a string"
	case *ast.LiteralNode:
		return "a string"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.AliasNode:
		return "an alias to an unknown anchor"
	case *ast.NullNode:
		return "null"
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		if secret(path) {
			return "a number"
		}
	case *ast.BoolNode:
		if secret(path) {
			return "true or false"
		}
	}
	if tk := n.GetToken(); tk != nil {
		return truncate(tk.Value)
	}
	return "a " + n.Type().String()
}

// secretWords are parts of field names whose values are secrets, or may be.
var secretWords = []string{"key", "token", "secret", "passw", "credential", "auth", "pem", "jwk", "private", "cookie", "salt", "signature", "cert"}

// secret reports whether a field on path may hold a secret: any key on the
// way names one (apiKeys[0].key, auth.anything, jwt.pem…).
func secret(path string) bool {
	p := strings.ToLower(path)
	for _, w := range secretWords {
		if strings.Contains(p, w) {
			return true
		}
	}
	return false
}

func quote(s string) string { return strconv.Quote(truncate(s)) }

func truncate(s string) string {
	const limit = 40
	if r := []rune(s); len(r) > limit {
		return string(r[:limit]) + "…"
	}
	return s
}

func tokenPosition(tk *token.Token) (line, col int) {
	if tk == nil || tk.Position == nil {
		return 0, 0
	}
	return tk.Position.Line, tk.Position.Column
}

func lowerFirst(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	r := []rune(s)
	if len(r) > 1 && strings.ToUpper(string(r[1])) == string(r[1]) && strings.ToLower(string(r[1])) != string(r[1]) {
		return s // an acronym such as "YAML"
	}
	return strings.ToLower(string(r[0])) + string(r[1:])
}
