package options

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// Source is options as they appear in a YAML or JSON document.
type Source struct {
	File string // name used in positions, e.g. "ply.yaml"
	Data []byte // the whole document (YAML or JSON)
	Path string // YAML path of the options node inside Data, e.g. "$.plugins.cache.options"; "" or "$" means the whole document
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
//
// Only the first document of a multi-document file is read. src.Path supports
// "$", ".key", ".'key.with.dots'" and "[index]".
func Decode(src Source, dst any) []Problem {
	_, problems := decode(src, dst)
	return problems
}

// Load is Decode followed, if decoding found no problems, by Validate.
//
// Unknown keys do not stop it: the rest is still decoded and validated, so
// every problem is reported at once.
func Load(src Source, dst any) []Problem {
	d, problems, decoded := decodeAll(src, dst)
	if !decoded {
		return problems
	}
	problems = append(problems, validate(dst, d)...)
	sortProblems(problems)
	return problems
}

func decode(src Source, dst any) (*document, []Problem) {
	d, problems, decoded := decodeAll(src, dst)
	if decoded && len(problems) > 0 { // Decode is all or nothing
		reflect.ValueOf(dst).Elem().SetZero()
	}
	return d, problems
}

// decodeAll decodes src into dst. decoded reports whether dst holds the
// document's values: there were no problems, or only unknown keys (which
// are then skipped).
func decodeAll(src Source, dst any) (d *document, problems []Problem, decoded bool) {
	rv := reflect.ValueOf(dst)
	if !rv.IsValid() || rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return nil, []Problem{{Message: fmt.Sprintf("options must be decoded into a non-nil pointer to a struct, got %T", dst)}}, false
	}
	out := rv.Elem()
	out.SetZero()
	d, problems = parseSource(src)
	if len(problems) > 0 {
		return d, problems, false
	}
	if d.node == nil {
		return d, nil, true
	}
	c := newChecker(d)
	c.check(d.node, out.Type(), "")
	if len(c.problems) > c.unknown {
		return d, c.problems, false
	}
	strict := len(c.problems) == 0
	// The checker found nothing; decode into a fresh value so a failure (which the
	// checker should have foreseen) leaves *dst zero.
	v := reflect.New(out.Type())
	if err := d.decodeInto(v.Interface(), strict); err != nil {
		return d, append(c.problems, d.decodeProblem(err)), false
	}
	out.Set(v.Elem())
	return d, c.problems, true
}

// decodeInto decodes the options node into v with goccy/go-yaml.
// Strict decoding rejects unknown keys; it is off only when the checker
// has already reported them.
func (d *document) decodeInto(v any, strict bool) (err error) {
	defer func() {
		if r := recover(); r != nil { // a decoder bug must not take the host down
			err = fmt.Errorf("cannot decode: %v", r)
		}
	}()
	opts := []yaml.DecodeOption{
		yaml.AllowDuplicateMapKey(), // the checker reports duplicates; this lets explicit keys override merged ones
		yaml.UseJSONUnmarshaler(),
	}
	if strict {
		opts = append(opts, yaml.Strict())
	}
	dec := yaml.NewDecoder(bytes.NewReader(nil), opts...)
	if d.node != d.body && len(d.anchors) > 0 {
		// Let aliases in the options refer to anchors elsewhere in the document.
		var all any
		_ = dec.DecodeFromNode(d.body, &all)
	}
	return dec.DecodeFromNode(d.node, v)
}

// decodeProblem converts an error of the decoder into a Problem.
func (d *document) decodeProblem(err error) Problem {
	var ye yaml.Error
	if !errors.As(err, &ye) || ye.GetToken() == nil {
		return Problem{Message: lowerFirst(err.Error())}
	}
	tk := ye.GetToken()
	line, col := tokenPosition(tk)
	p := Problem{Line: line, Column: col, Message: lowerFirst(ye.GetMessage())}
	if segs, ok := pathOfToken(d.node, tk, nil); ok {
		p.Path = formatPath(segs)
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		p.Message = fmt.Sprintf("must be %s, got %s", typePhrase(te.DstType), truncate(tk.Value))
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
