package options

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"

	"github.com/plykit/ply/option"
)

// Source is options as they appear in a YAML or JSON document.
type Source struct {
	File string // name used in positions, e.g. "ply.yaml"
	Data []byte // the whole document (YAML or JSON)
	Path string // YAML path of the options node inside Data, e.g. "$.plugins.cache.options"; "" or "$" means the whole document

	// Env, when set, looks up the environment variables that ${NAME} in a
	// scalar value refers to (os.LookupEnv, or a map in tests); see
	// [Decode]. Nil leaves "${" as written.
	Env func(name string) (value string, ok bool)
}

// Decode replaces *dst (a pointer to a struct) with the options in src: it zeroes
// *dst and then decodes strictly. A missing node at src.Path (key absent) or a null
// node leaves *dst zero and is not a problem.
//
// Fields are named as goccy/go-yaml names them: by their yaml tag, else their json
// tag, else their lower-cased Go name. Decode reports every unknown or duplicate key
// (with the closest field name when one is near), every value of the wrong type,
// every bad duration (written "1.5s", "2m"…) or time, every value that a type's
// UnmarshalText or UnmarshalJSON method rejects, and syntax errors, all at once,
// with paths relative to the options and file positions. Decoding is strict about
// scalars: a string field takes only a string, an integer field only an integer.
// Map keys must be on one line. When there are problems, *dst is left zero.
// Messages never repeat a string value from the file (it may be a secret), and
// no value at all under a key that names a secret (key, token, password…).
//
// With src.Env set, ${NAME} in a scalar value (never in a key or a comment) is
// replaced with the variable's value after parsing, and $${ stands for a
// literal ${. A plain scalar that is exactly one reference takes the type of
// its value ("port: ${PORT}" is an integer when PORT is 8080); anything else
// stays a string. A variable Env does not know is a problem at the value.
//
// Only the first document of a multi-document file is read. src.Path supports
// "$", ".key", ".'key.with.dots'" and "[index]". A document nested deeper than
// [MaxDepth] or whose aliases expand to more than [MaxAliasNodes] values is
// refused before it is decoded.
func Decode(src Source, dst any) []*option.Error {
	_, problems := decode(src, dst)
	return problems
}

// Load is Decode followed by Validate.
//
// Problems do not stop it: a value of the wrong type is left zero and the
// rest is still decoded and validated (problems that follow from the left
// out value are not reported), so every problem is reported at once, in
// file order. Only syntax errors, documents over the limits and keys that
// cannot be read leave nothing to validate.
func Load(src Source, dst any) []*option.Error {
	d, problems := parseSource(src)
	if d == nil {
		return problems
	}
	return d.read(dst, true)
}

// A Document is a parsed Source, to decode options from it and to find
// positions in it. It is not safe for concurrent use. While it is
// reachable, [Load] and [Decode] of the same bytes (other paths in the
// same file) reuse its parse instead of parsing again.
type Document struct {
	d *document
}

// Parse parses src and locates its options node. Its problems are those
// that leave nothing to decode: syntax errors, a document over the limits,
// a bad src.Path; the Document is nil when there are any.
func Parse(src Source) (*Document, []*option.Error) {
	d, problems := parseSource(src)
	if d == nil {
		return nil, problems
	}
	return &Document{d: d}, nil
}

// Load is [Load] on the parsed document. Call it once: it leaves out of the
// document the values it reports as of the wrong type.
func (doc *Document) Load(dst any) []*option.Error { return doc.d.read(dst, true) }

// Position returns the line and column of the value at path (an option.Error Field
// path, relative to the options node), or of the nearest node on the way to
// it when it is absent; 0, 0 when the document is empty.
func (doc *Document) Position(path string) (line, col int) {
	d := doc.d
	n := d.node
	if n == nil {
		return position(d.nearest)
	}
	segs, ok := parsePath(path)
	if !ok {
		return position(n)
	}
	n, _ = d.lookup(n, segs)
	return position(n)
}

// under reports whether path is one of paths or inside one of them.
func under(path string, paths []string) bool {
	for _, p := range paths {
		if path == p || p == "" || strings.HasPrefix(path, p) && (path[len(p)] == '.' || path[len(p)] == '[') {
			return true
		}
	}
	return false
}

func decode(src Source, dst any) (*document, []*option.Error) {
	d, problems := parseSource(src)
	if d == nil {
		if ok, p := destination(dst); !ok {
			return nil, []*option.Error{p}
		}
		reflect.ValueOf(dst).Elem().SetZero()
		return nil, problems
	}
	problems = d.read(dst, false)
	if len(problems) > 0 { // Decode is all or nothing
		if ok, _ := destination(dst); ok {
			reflect.ValueOf(dst).Elem().SetZero()
		}
	}
	return d, problems
}

// destination checks that dst is a non-nil pointer to a struct.
func destination(dst any) (bool, *option.Error) {
	rv := reflect.ValueOf(dst)
	if !rv.IsValid() || rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return false, &option.Error{Problem: fmt.Sprintf("options must be decoded into a non-nil pointer to a struct, got %T", dst)}
	}
	return true, &option.Error{}
}

// prune replaces the values of the wrong type, and aliases to them, with
// nulls, so that the decoder leaves them zero.
func (d *document) prune(bad map[ast.Node]bool) {
	if len(bad) == 0 {
		return
	}
	rewriteValues(d.node, func(n ast.Node) ast.Node {
		if bad[n] {
			return ast.Null(n.GetToken())
		}
		if a, ok := n.(*ast.AliasNode); ok && bad[d.resolve(a)] {
			return ast.Null(n.GetToken())
		}
		return n
	})
	if bad[d.node] {
		d.node = nil
	}
}

// decodeInto decodes the options node into v with goccy/go-yaml.
// Strict decoding rejects unknown keys; it is off only when the builder
// found some, which the schema reports.
func (d *document) decodeInto(v any, strict bool) (err error) {
	defer func() {
		if r := recover(); r != nil { // a decoder bug must not take the host down
			err = fmt.Errorf("cannot decode: %v", r)
		}
	}()
	opts := []yaml.DecodeOption{
		yaml.AllowDuplicateMapKey(), // the builder reports duplicates; this lets explicit keys override merged ones
		yaml.UseJSONUnmarshaler(),
	}
	if strict {
		opts = append(opts, yaml.Strict())
	}
	dec := yaml.NewDecoder(bytes.NewReader(nil), opts...)
	return dec.DecodeFromNode(d.node, v) // its aliases were copied in: it stands alone
}

// decodeProblem converts an error of the decoder into a Problem.
func (d *document) decodeProblem(err error) *option.Error {
	var ye yaml.Error
	if !errors.As(err, &ye) || ye.GetToken() == nil {
		return &option.Error{Problem: lowerFirst(err.Error())}
	}
	tk := ye.GetToken()
	line, col := tokenPosition(tk)
	p := &option.Error{Line: line, Column: col, Problem: lowerFirst(ye.GetMessage())}
	if segs, ok := pathOfToken(d.node, tk, nil); ok {
		p.Field = formatPath(segs)
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		p.Problem = "must be " + typePhrase(te.DstType)
	}
	return p
}

// pathOfToken finds the node whose token is tk under n and returns its path; a key's
// path is the path of its mapping.
func pathOfToken(n ast.Node, tk *token.Token, path []segment) ([]segment, bool) {
	if n == nil {
		return nil, false
	}
	if n.GetToken() == tk {
		return path, true
	}
	switch v := n.(type) {
	case *ast.AnchorNode:
		return pathOfToken(v.Value, tk, path)
	case *ast.TagNode:
		return pathOfToken(v.Value, tk, path)
	case *ast.SequenceNode:
		for i, e := range v.Values {
			if p, ok := pathOfToken(e, tk, append(path[:len(path):len(path)], indexSeg(i))); ok {
				return p, true
			}
		}
	case *ast.MappingNode, *ast.MappingValueNode:
		entries, _ := mappingEntries(v)
		for _, e := range entries {
			if e.Key != nil && e.Key.GetToken() == tk {
				return path, true
			}
			k, _ := keyText(e.Key)
			if p, ok := pathOfToken(e.Value, tk, append(path[:len(path):len(path)], keySeg(k))); ok {
				return p, true
			}
		}
	}
	return nil, false
}

// typePhrase names what a value of Go type t looks like in a file.
func typePhrase(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == durationType:
		return `a duration such as "1.5s"`
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "an integer"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "a number"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		return "a list"
	case t.Kind() == reflect.Struct || t.Kind() == reflect.Map:
		return "a mapping"
	}
	return "a " + t.String()
}
