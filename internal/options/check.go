package options

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"

	"github.com/plykit/ply/option"
)

// maxDepth bounds how deep the checker follows nested values (and recursive types).
const maxDepth = 1000

// checker walks a YAML node against a Go type before the decoder runs, because the
// decoder stops at its first error: the checker reports every unknown or duplicate
// key, every value of the wrong type and every bad duration, each with its path and
// position. It follows goccy/go-yaml's rules for field names (the yaml tag, else the
// json tag, else the lower-cased Go name) and is stricter than the decoder about
// scalars: a string field takes only a string, a number field only a number.
type checker struct {
	d        *document
	problems []*option.Error
	unknown  int                  // how many of problems are unknown keys (which decoding skips)
	bad      map[ast.Node]bool    // values of the wrong type, which decoding leaves out
	badPaths []string             // their paths
	fatal    bool                 // a problem that leaves nothing to decode
	seen     map[checkedNode]bool // aliased values already checked against a type
	depth    int
	tooDeep  bool
}

type checkedNode struct {
	n ast.Node
	t reflect.Type
}

func newChecker(d *document) *checker {
	return &checker{d: d, seen: map[checkedNode]bool{}, bad: map[ast.Node]bool{}}
}

// add reports that the value n at path cannot be decoded; decoding will
// leave it out. A problem with the options node itself is fatal.
func (c *checker) add(n ast.Node, path, msg string) {
	c.report(n, path, msg)
	if path == "" || n == c.d.node || c.d.resolve(c.d.node) == n {
		c.fatal = true
		return
	}
	c.bad[n] = true
	c.badPaths = append(c.badPaths, path)
}

// addKey reports a key that decoding can skip or that does not stop it: an
// unknown or duplicate key.
func (c *checker) addKey(n ast.Node, path, msg string) { c.report(n, path, msg) }

// addFatal reports a problem that leaves nothing to decode.
func (c *checker) addFatal(n ast.Node, path, msg string) {
	c.report(n, path, msg)
	c.fatal = true
}

func (c *checker) report(n ast.Node, path, msg string) {
	line, col := position(n)
	c.problems = append(c.problems, &option.Error{Field: path, Line: line, Column: col, Problem: msg})
}

// check checks node n, found at path, against type t.
func (c *checker) check(n ast.Node, t reflect.Type, path string) {
	if c.depth >= maxDepth {
		if !c.tooDeep {
			c.tooDeep = true
			c.addFatal(n, path, fmt.Sprintf("is nested too deeply (more than %d levels)", maxDepth))
		}
		return
	}
	c.depth++
	defer func() { c.depth-- }()

	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	n, ok := c.follow(n, t, path)
	if !ok || isNull(n) {
		return
	}
	if _, tagged := n.(*ast.TagNode); tagged {
		return // an explicit tag (!!str, !!binary…): the decoder applies it
	}
	if c.custom(n, t, path) {
		return
	}
	switch t.Kind() {
	case reflect.Bool:
		if _, ok := n.(*ast.BoolNode); !ok {
			c.add(n, path, "must be true or false, got "+describe(n, path))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		c.checkInt(n, t, path)
	case reflect.Float32, reflect.Float64:
		c.checkFloat(n, t, path)
	case reflect.String:
		c.checkString(n, path)
	case reflect.Struct:
		c.checkStruct(n, t, path)
	case reflect.Map:
		c.checkMap(n, t, path)
	case reflect.Slice, reflect.Array:
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			c.add(n, path, "must be a list, got "+describe(n, path))
			return
		}
		if t.Kind() == reflect.Array && len(seq.Values) > t.Len() {
			c.add(n, path, fmt.Sprintf("must have at most %d items, got %d", t.Len(), len(seq.Values)))
			return
		}
		for i, v := range seq.Values {
			c.check(v, t.Elem(), joinPath(path, indexSeg(i)))
		}
	default:
		// interfaces take any value; other kinds are left to the decoder
	}
}

// follow resolves anchors and aliases. An aliased value is checked once per type,
// where it is defined; ok is false when there is nothing (more) to check.
func (c *checker) follow(n ast.Node, t reflect.Type, path string) (_ ast.Node, ok bool) {
	for range 100 {
		switch a := n.(type) {
		case *ast.AnchorNode:
			c.seen[checkedNode{a.Value, t}] = true
			n = a.Value
		case *ast.AliasNode:
			target := c.d.resolve(a)
			if target == nil {
				name := ""
				if a.Value != nil {
					name = a.Value.String()
				}
				c.add(n, path, fmt.Sprintf("alias *%s has no anchor; define &%s before it", name, name))
				return nil, false
			}
			if c.seen[checkedNode{target, t}] {
				return nil, false
			}
			c.seen[checkedNode{target, t}] = true
			n = target
		default:
			return n, true
		}
	}
	return nil, false
}

var (
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	timeType            = reflect.TypeFor[time.Time]()
	jsonMarshalerType   = reflect.TypeFor[json.Marshaler]()
	textMarshalerType   = reflect.TypeFor[encoding.TextMarshaler]()
	yamlUnmarshalerType = []reflect.Type{
		reflect.TypeFor[yaml.BytesUnmarshaler](),
		reflect.TypeFor[yaml.BytesUnmarshalerContext](),
		reflect.TypeFor[yaml.InterfaceUnmarshaler](),
		reflect.TypeFor[yaml.InterfaceUnmarshalerContext](),
		reflect.TypeFor[yaml.NodeUnmarshaler](),
		reflect.TypeFor[yaml.NodeUnmarshalerContext](),
	}
)

// custom checks the types that the decoder does not decode field by field: times,
// durations and types with their own unmarshal methods. It reports whether t was
// one of them.
func (c *checker) custom(n ast.Node, t reflect.Type, path string) bool {
	pt := reflect.PointerTo(t)
	for _, u := range yamlUnmarshalerType {
		if pt.Implements(u) {
			return true // the type decodes itself
		}
	}
	switch {
	case t == timeType:
		s, ok := stringValue(n)
		if !ok || !isTimestamp(s) {
			c.add(n, path, `must be a time such as "2006-01-02T15:04:05Z" or "2006-01-02"`+got(n, path))
		}
		return true
	case t == durationType:
		s, ok := stringValue(n)
		if _, err := time.ParseDuration(s); !ok || err != nil {
			c.add(n, path, `must be a duration such as "1.5s" or "2m" (a number and a unit: ns, us, ms, s, m or h)`+got(n, path))
		}
		return true
	case pt.Implements(textUnmarshalerType):
		s, ok := scalarText(n)
		switch {
		case ok:
			u := reflect.New(t).Interface().(encoding.TextUnmarshaler)
			if err := u.UnmarshalText([]byte(s)); err != nil {
				c.add(n, path, invalid(err, s, path))
			}
		case pt.Implements(jsonUnmarshalerType):
			c.checkJSON(n, t, path)
		default:
			c.add(n, path, "must be a string, got "+describe(n, path))
		}
		return true
	case pt.Implements(jsonUnmarshalerType):
		c.checkJSON(n, t, path)
		return true
	}
	return false
}

// got says what a value of the wrong kind is, for a message: ", got 5", or
// nothing for a string, whose text is not repeated.
func got(n ast.Node, path string) string {
	if _, ok := stringValue(n); ok {
		return ""
	}
	return ", got " + describe(n, path)
}

// invalid phrases the error of a type's own decoding of text, without the
// text (which the error may quote, and which may be a secret).
func invalid(err error, text, path string) string {
	if secret(path) {
		return "is not valid"
	}
	msg := err.Error()
	if text != "" {
		msg = strings.ReplaceAll(msg, text, "…")
	}
	return "is not valid: " + msg
}

// timestampFormats are the formats in which goccy/go-yaml reads a time.Time; it
// leaves the time zero, without an error, for text in no other format.
var timestampFormats = []string{
	"2006-1-2T15:4:5.999999999Z07:00",
	"2006-1-2t15:4:5.999999999Z07:00",
	"2006-1-2 15:4:5.999999999",
	"2006-1-2",
}

func isTimestamp(s string) bool {
	for _, f := range timestampFormats {
		if _, err := time.Parse(f, s); err == nil {
			return true
		}
	}
	return false
}

// checkJSON checks a value for a type that decodes itself from JSON by handing
// it the node as JSON, as the decoder will.
func (c *checker) checkJSON(n ast.Node, t reflect.Type, path string) {
	b, ok := nodeJSON(n)
	if !ok {
		return // the decoder will say what is wrong
	}
	u := reflect.New(t).Interface().(json.Unmarshaler)
	if err := u.UnmarshalJSON(b); err != nil {
		c.add(n, path, invalid(err, string(b), path))
	}
}

func nodeJSON(n ast.Node) (b []byte, ok bool) {
	defer func() {
		if recover() != nil {
			b, ok = nil, false
		}
	}()
	var v any
	if err := yaml.NodeToValue(n, &v); err != nil {
		return nil, false
	}
	b, err := json.Marshal(v)
	return b, err == nil
}

// scalarText is the text of a scalar node, as a string field would receive it.
func scalarText(n ast.Node) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		return v.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		if tk := n.GetToken(); tk != nil {
			return tk.Value, true
		}
	}
	return "", false
}

// stringValue is the value of a string scalar (plain, quoted or block).
func stringValue(n ast.Node) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		return v.Value.Value, true
	}
	return "", false
}

func (c *checker) checkString(n ast.Node, path string) {
	if _, ok := stringValue(n); ok {
		return
	}
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode:
		c.add(n, path, "must be a string, got "+describe(n, path))
	default:
		c.add(n, path, "must be a string, got "+describe(n, path)+" (put it in quotes)")
	}
}

// plainNumber returns the text of an unquoted string that reads as a number,
// such as 1e3 or an integer too large for 64 bits, which the parser leaves as strings.
func plainNumber(n ast.Node) (string, bool) {
	v, ok := n.(*ast.StringNode)
	if !ok || v.Token == nil || v.Token.Type != token.StringType {
		return "", false
	}
	if _, err := strconv.ParseFloat(v.Value, 64); err != nil && !errors.Is(err, strconv.ErrRange) {
		return "", false
	}
	return v.Value, true
}

func (c *checker) checkInt(n ast.Node, t reflect.Type, path string) {
	zero := reflect.Zero(t)
	unsigned := t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64
	fits := false
	switch v := n.(type) {
	case *ast.IntegerNode:
		switch x := v.Value.(type) {
		case int64:
			if unsigned {
				fits = x >= 0 && !zero.OverflowUint(uint64(x))
			} else {
				fits = !zero.OverflowInt(x)
			}
		case uint64:
			if unsigned {
				fits = !zero.OverflowUint(x)
			} else {
				fits = x <= math.MaxInt64 && !zero.OverflowInt(int64(x))
			}
		}
	case *ast.FloatNode:
		f := v.Value
		if f != math.Trunc(f) {
			c.add(n, path, "must be an integer, got "+describe(n, path))
			return
		}
		if unsigned {
			fits = f >= 0 && f < math.MaxUint64 && !zero.OverflowUint(uint64(f))
		} else {
			fits = f >= math.MinInt64 && f < math.MaxInt64 && !zero.OverflowInt(int64(f))
		}
	default:
		s, ok := plainNumber(n)
		if !ok {
			c.add(n, path, "must be an integer, got "+describe(n, path))
			return
		}
		if _, isInt := new(big.Int).SetString(s, 10); !isInt {
			c.add(n, path, "must be an integer without an exponent, got "+describe(n, path))
			return
		}
	}
	if !fits {
		bits := t.Bits()
		lo, hi := "0", strconv.FormatUint(math.MaxUint64>>(64-bits), 10)
		if !unsigned {
			lo = strconv.FormatInt(math.MinInt64>>(64-bits), 10)
			hi = strconv.FormatInt(math.MaxInt64>>(64-bits), 10)
		}
		c.add(n, path, fmt.Sprintf("must be an integer from %s to %s, got %s", lo, hi, describe(n, path)))
	}
}

func (c *checker) checkFloat(n ast.Node, t reflect.Type, path string) {
	var f float64
	switch v := n.(type) {
	case *ast.IntegerNode:
		return
	case *ast.FloatNode:
		f = v.Value
	case *ast.InfinityNode, *ast.NanNode:
		c.add(n, path, "must be a finite number, got "+describe(n, path))
		return
	default:
		s, ok := plainNumber(n)
		if !ok {
			c.add(n, path, "must be a number, got "+describe(n, path))
			return
		}
		var err error
		if f, err = strconv.ParseFloat(s, 64); err != nil {
			c.add(n, path, "is out of range for a number, got "+describe(n, path))
			return
		}
	}
	switch {
	case math.IsInf(f, 0) || math.IsNaN(f):
		c.add(n, path, "must be a finite number, got "+describe(n, path))
	case t.Kind() == reflect.Float32 && math.Abs(f) > math.MaxFloat32:
		c.add(n, path, fmt.Sprintf("must be a number from %g to %g, got %s", -math.MaxFloat32, math.MaxFloat32, describe(n, path)))
	}
}

// structField is a field as the decoder names it.
type structField struct {
	name string
	typ  reflect.Type
}

// decodedFields lists the fields of struct type t under the names the decoder
// uses, in declaration order; fields of an embedded struct tagged `inline` are
// listed in its place.
func decodedFields(t reflect.Type) []structField {
	var fs []structField
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if tag == "" {
			tag = f.Tag.Get("json")
		}
		if (f.PkgPath != "" && !f.Anonymous) || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && hasOption(opts, "inline") {
			fs = append(fs, decodedFields(ft)...)
			continue
		}
		fs = append(fs, structField{name: name, typ: f.Type})
	}
	return fs
}

func hasOption(opts, want string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

func (c *checker) checkStruct(n ast.Node, t reflect.Type, path string) {
	entries, ok := mappingEntries(n)
	if !ok {
		c.add(n, path, "must be a mapping, got "+describe(n, path))
		return
	}
	fields := decodedFields(t)
	c.checkKeys(entries, path)
	for _, e := range entries {
		if _, merge := e.Key.(*ast.MergeKeyNode); merge {
			c.checkMerge(e.Value, t, path)
			continue
		}
		key, ok := keyText(e.Key)
		if !ok {
			c.addFatal(e.Key, path, "keys must be field names, got "+describe(e.Key, ""))
			continue
		}
		i := fieldIndex(fields, key)
		if i < 0 {
			c.addKey(e.Key, joinPath(path, keySeg(key)), unknownField(key, fields))
			c.unknown++
			continue
		}
		c.check(e.Value, fields[i].typ, joinPath(path, keySeg(key)))
	}
}

func fieldIndex(fs []structField, name string) int {
	for i, f := range fs {
		if f.name == name {
			return i
		}
	}
	return -1
}

// checkMerge checks the mappings merged in with "<<" against the type of the
// mapping that merges them.
func (c *checker) checkMerge(v ast.Node, t reflect.Type, path string) {
	n, ok := c.follow(v, t, path)
	if !ok {
		return
	}
	if seq, isSeq := n.(*ast.SequenceNode); isSeq {
		for _, m := range seq.Values {
			if m, ok := c.follow(m, t, path); ok {
				c.checkMergeSource(m, t, path)
			}
		}
		return
	}
	c.checkMergeSource(n, t, path)
}

func (c *checker) checkMergeSource(n ast.Node, t reflect.Type, path string) {
	if !isMapping(n) {
		c.addFatal(n, path, "<< must merge a mapping or a list of mappings, got "+describe(n, path))
		return
	}
	if t.Kind() == reflect.Map {
		c.checkMap(n, t, path)
	} else {
		c.checkStruct(n, t, path)
	}
}

// checkKeys reports keys written twice in one mapping.
func (c *checker) checkKeys(entries []*ast.MappingValueNode, path string) {
	first := map[string]ast.Node{}
	for _, e := range entries {
		key, ok := keyText(e.Key)
		if !ok {
			continue
		}
		if prev, dup := first[key]; dup {
			line, _ := position(prev)
			c.addKey(e.Key, joinPath(path, keySeg(key)), fmt.Sprintf("duplicate key (first at line %d); remove one", line))
			continue
		}
		first[key] = e.Key
	}
}

func (c *checker) checkMap(n ast.Node, t reflect.Type, path string) {
	entries, ok := mappingEntries(n)
	if !ok {
		c.add(n, path, "must be a mapping, got "+describe(n, path))
		return
	}
	c.checkKeys(entries, path)
	for _, e := range entries {
		if _, merge := e.Key.(*ast.MergeKeyNode); merge {
			c.checkMerge(e.Value, t, path)
			continue
		}
		key, ok := keyText(e.Key)
		if !ok {
			c.addFatal(e.Key, path, "keys must be scalars, got "+describe(e.Key, ""))
			continue
		}
		if strings.ContainsAny(key, "\r\n") {
			// goccy/go-yaml cannot write such a key back (it breaks the mapping)
			c.addFatal(e.Key, path, fmt.Sprintf("key %s must be on one line", quote(key)))
			continue
		}
		if t.Key().Kind() != reflect.String {
			var k ast.Node = e.Key
			if mk, isKey := k.(*ast.MappingKeyNode); isKey {
				k = mk.Value
			}
			before := len(c.problems)
			c.check(k, t.Key(), path)
			if len(c.problems) > before {
				c.fatal = true // a key cannot be left out like a value
			}
		}
		c.check(e.Value, t.Elem(), joinPath(path, keySeg(key)))
	}
}

// unknownField says what to write instead of key (which the problem's path
// ends with): the closest field name, or the list of fields.
func unknownField(key string, fields []structField) string {
	best, bestDist := "", 3
	for _, f := range fields {
		d := editDistance(strings.ToLower(key), strings.ToLower(f.name))
		if d < bestDist && d < utf8.RuneCountInString(f.name) {
			best, bestDist = f.name, d
		}
	}
	switch {
	case best != "":
		return fmt.Sprintf("unknown field (did you mean %s?)", strconv.Quote(best))
	case len(fields) == 0:
		return "unknown field (no fields are allowed here)"
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = strconv.Quote(f.name)
	}
	return fmt.Sprintf("unknown field (known fields: %s)", strings.Join(names, ", "))
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
