package options

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"

	"github.com/plykit/ply/option"
)

// maxDepth bounds how deep the builder follows nested values.
const maxDepth = 1000

// builder makes the instance that the schema checks out of an options node:
// the values as written, as encoding/json would encode them once decoded,
// so that the schema reports every unknown key, every value of the wrong
// type and every bad duration at once, with the node that holds it. It
// walks the node beside the options' Go type only for what the schema
// cannot see in the text: the names the decoder gives fields (yaml tag,
// else json tag, else the lower-cased Go name), values that encoding/json
// leaves out (omitempty, omitzero) and types that decode themselves (times,
// slog.Level, json.RawMessage…), whose own decoding it runs.
type builder struct {
	d        *document
	problems []*option.Error     // what the schema cannot report: duplicate keys, bad keys, values a type rejects
	values   map[string]ast.Node // the value at each path, for positions
	keys     map[string]ast.Node // the key of each mapping entry, by the entry's path
	types    map[string]reflect.Type
	bad      map[ast.Node]bool // values the decoder cannot take, which it is not given
	dangling map[ast.Node]bool // aliases without an anchor, reported once each
	badPaths []string          // their paths
	unknown  bool              // a key names no field: decode leniently, the schema reports it
	fatal    bool              // a problem that leaves nothing to decode
	depth    int
	tooDeep  bool
}

func newBuilder(d *document) *builder {
	return &builder{
		d:      d,
		values: map[string]ast.Node{},
		keys:   map[string]ast.Node{},
		types:  map[string]reflect.Type{},
		bad:    map[ast.Node]bool{},
	}
}

// add reports that the value n at path cannot be decoded; decoding will leave
// it out. A problem with the options node itself is fatal.
func (b *builder) add(n ast.Node, path, msg string) {
	b.report(n, path, msg)
	b.leaveOut(n, path)
}

// leaveOut keeps the value n at path from the decoder.
func (b *builder) leaveOut(n ast.Node, path string) {
	if path == "" || n == b.d.node || b.d.resolve(b.d.node) == n {
		b.fatal = true
		return
	}
	b.bad[n] = true
	b.badPaths = append(b.badPaths, path)
}

// addFatal reports a problem that leaves nothing to decode.
func (b *builder) addFatal(n ast.Node, path, msg string) {
	b.report(n, path, msg)
	b.fatal = true
}

func (b *builder) report(n ast.Node, path, msg string) {
	line, col := position(n)
	b.problems = append(b.problems, &option.Error{Field: path, Line: line, Column: col, Problem: msg})
}

// value returns the instance of node n, found at path, which decodes into
// a value of type t (nil: any value, as for an unknown key). ok is false
// when n is null: encoding/json leaves a nil out, or writes null, which
// counts as absent.
func (b *builder) value(n ast.Node, t reflect.Type, path string) (v any, ok bool) {
	if b.depth >= maxDepth {
		if !b.tooDeep {
			b.tooDeep = true
			b.addFatal(n, path, fmt.Sprintf("is nested too deeply (more than %d levels)", maxDepth))
		}
		return nil, false
	}
	b.depth++
	defer func() { b.depth-- }()

	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && t.Kind() == reflect.Interface {
		t = nil
	}
	n, ok = b.follow(n, path)
	if !ok {
		return nil, false
	}
	b.values[path] = n
	if t != nil {
		b.types[path] = t
	}
	if isNull(n) {
		return nil, false
	}
	if tn, tagged := n.(*ast.TagNode); tagged { // !!str, !!binary…: as the decoder reads it
		return b.tagged(tn, path)
	}
	if t != nil {
		if v, handled, ok := b.custom(n, t, path); handled {
			return v, ok
		}
	}
	v, ok = b.scalar(n, t, path)
	if num, isNum := v.(json.Number); isNum && t != nil && !fits(num, t) {
		b.add(n, path, mustBe(t, n, path)) // the schema knows numbers, not Go's sizes of them
		return nil, false
	}
	return v, ok
}

// fits reports whether the number n fits a value of type t, when t is a
// number type; the schema checks the rest.
func fits(n json.Number, t reflect.Type) bool {
	z := reflect.New(t).Elem()
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(string(n), 10, 64)
		return err == nil && !z.OverflowInt(i) || err != nil && !errors.Is(err, strconv.ErrRange) // not an integer: the schema says so
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if strings.HasPrefix(string(n), "-") {
			_, err := strconv.ParseFloat(string(n), 64)
			return err != nil // a negative number: out of range; else not a number
		}
		u, err := strconv.ParseUint(string(n), 10, 64)
		return err == nil && !z.OverflowUint(u) || err != nil && !errors.Is(err, strconv.ErrRange)
	case reflect.Float32:
		f, err := strconv.ParseFloat(string(n), 64)
		return err == nil && !z.OverflowFloat(f)
	}
	return true
}

// scalar returns the instance of n, a node that is not null, tagged or of a
// type that decodes itself.
func (b *builder) scalar(n ast.Node, t reflect.Type, path string) (any, bool) {
	switch v := n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return b.mapping(n, t, path), true
	case *ast.SequenceNode:
		return b.list(v, t, path)
	case *ast.StringNode:
		if s, isNum := plainNumber(v); isNum && json.Valid([]byte(s)) {
			return json.Number(s), true // 1e3, or an integer too large for 64 bits
		}
		return v.Value, true
	case *ast.LiteralNode:
		return v.Value.Value, true
	case *ast.IntegerNode:
		return json.Number(fmt.Sprint(v.Value)), true
	case *ast.FloatNode:
		if math.IsInf(v.Value, 0) || math.IsNaN(v.Value) {
			b.add(n, path, "must be a finite number, got "+describe(n, path))
			return nil, false
		}
		return json.Number(strconv.FormatFloat(v.Value, 'g', -1, 64)), true
	case *ast.InfinityNode, *ast.NanNode:
		b.add(n, path, "must be a finite number, got "+describe(n, path))
		return nil, false
	case *ast.BoolNode:
		return v.Value, true
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Value, true
	}
	return nil, false
}

// follow resolves anchors and aliases.
func (b *builder) follow(n ast.Node, path string) (ast.Node, bool) {
	for range 100 {
		switch a := n.(type) {
		case *ast.AnchorNode:
			n = a.Value
		case *ast.AliasNode:
			target := b.d.resolve(a)
			if target == nil && b.dangling[a] { // reported where the alias was first met: an anchor repeated by
				b.leaveOut(n, path) // other aliases would report it once per repetition, without bound
				return nil, false
			}
			if target == nil {
				if b.dangling == nil {
					b.dangling = make(map[ast.Node]bool)
				}
				b.dangling[a] = true
				name := ""
				if a.Value != nil {
					name = a.Value.String()
				}
				b.add(n, path, fmt.Sprintf("alias *%s has no anchor; define &%s before it", name, name))
				return nil, false
			}
			n = target
		default:
			return n, true
		}
	}
	return nil, false
}

// tagged returns a value with an explicit tag as the decoder reads it.
func (b *builder) tagged(n *ast.TagNode, path string) (v any, ok bool) {
	defer func() {
		if recover() != nil {
			v, ok = nil, false
		}
	}()
	var x any
	if err := yaml.NodeToValue(n, &x); err != nil {
		text, _ := scalarText(n)
		b.add(n, path, invalid(err, text, path))
		return nil, false
	}
	return plain(x)
}

// plain converts a value decoded by goccy/go-yaml into an instance.
func plain(x any) (any, bool) {
	bs, err := json.Marshal(x)
	if err != nil {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(bs))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil || v == nil {
		return nil, false
	}
	return dropNulls(v), true
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

// custom makes the instance of a value whose type decodes itself (a time,
// slog.Level, json.RawMessage…): it decodes the node into that type as the
// decoder will, and encodes the result as encoding/json does, so that the
// schema sees what it would see of the decoded options. handled is false
// for other types.
func (b *builder) custom(n ast.Node, t reflect.Type, path string) (v any, handled, ok bool) {
	pt := reflect.PointerTo(t)
	yamlOwn := slices.ContainsFunc(yamlUnmarshalerType, pt.Implements)
	if t != timeType && !yamlOwn && !pt.Implements(textUnmarshalerType) && !pt.Implements(jsonUnmarshalerType) {
		return nil, false, false
	}
	text, isText := scalarText(n)
	switch {
	case t == timeType:
		if s, isStr := stringValue(n); !isStr || !isTimestamp(s) { // the decoder would leave it zero
			b.add(n, path, `must be a time such as "2006-01-02T15:04:05Z" or "2006-01-02"`+got(n, path))
			return nil, true, false
		}
	case !isText && !yamlOwn && !pt.Implements(jsonUnmarshalerType):
		b.add(n, path, "must be a string, got "+describe(n, path))
		return nil, true, false
	case !isText:
		text, _ = nodeJSON(n) // what UnmarshalJSON sees, and its error may quote
	}
	u := reflect.New(t)
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("cannot decode: %v", r)
			}
		}()
		return yaml.NodeToValue(n, u.Interface(), yaml.UseJSONUnmarshaler())
	}()
	if err != nil {
		b.add(n, path, invalid(err, text, path))
		return nil, true, false
	}
	v, ok = plain(u.Interface())
	return v, true, ok
}

// nodeJSON is n as JSON text.
func nodeJSON(n ast.Node) (s string, ok bool) {
	defer func() {
		if recover() != nil {
			s, ok = "", false
		}
	}()
	var v any
	if err := yaml.NodeToValue(n, &v); err != nil {
		return "", false
	}
	b, err := json.Marshal(v)
	return string(b), err == nil
}

// entry is one key and value of a mapping, merged-in ones included.
type entry struct {
	key   string
	keyN  ast.Node
	value ast.Node
}

// mapping makes the instance of a mapping. For a struct, keys are renamed
// from the decoder's field names to encoding/json's, and values that
// encoding/json would leave out (omitempty, omitzero) are left out.
func (b *builder) mapping(n ast.Node, t reflect.Type, path string) map[string]any {
	out := map[string]any{}
	var fields []structField
	isStruct := t != nil && t.Kind() == reflect.Struct
	if isStruct {
		fields = decodedFields(t)
	}
	seen := map[string]bool{}
	defer func() {
		for _, f := range fields { // encoding/json writes the zero value of a field it does not leave out
			if !seen[f.name] && !f.omitEmpty && !f.omitZero {
				if v, ok := zeroInstance(f.typ); ok {
					out[f.json] = v
				}
			}
		}
	}()
	for _, e := range b.entries(n, path, map[ast.Node]bool{}) {
		seen[e.key] = true
		p := joinPath(path, keySeg(e.key))
		b.keys[p] = e.keyN
		switch {
		case isStruct:
			i := fieldIndex(fields, e.key)
			if i < 0 {
				b.unknown = true
				if v, ok := b.value(e.value, nil, p); ok {
					out[e.key] = v
				} else {
					out[e.key] = nil // an unknown key, even without a value
				}
				continue
			}
			f := fields[i]
			v, ok := b.value(e.value, f.typ, p)
			if !ok || f.omitEmpty && empty(v, f.typ) || f.omitZero && zero(v, f.typ) {
				continue
			}
			out[f.json] = v
		case t != nil && t.Kind() == reflect.Map:
			if v, ok := b.value(e.value, t.Elem(), p); ok {
				out[e.key] = v
			}
		default:
			if v, ok := b.value(e.value, nil, p); ok {
				out[e.key] = v
			}
		}
	}
	return out
}

// entries lists the keys of mapping n in order, each once: explicit keys
// win over merged ones ("<<"), and a key written twice is reported.
func (b *builder) entries(n ast.Node, path string, merging map[ast.Node]bool) []entry {
	es, _ := mappingEntries(n)
	var out []entry
	first := map[string]ast.Node{}
	var merged []ast.Node
	for _, e := range es {
		if _, merge := e.Key.(*ast.MergeKeyNode); merge {
			merged = append(merged, e.Value)
			continue
		}
		key, ok := keyText(e.Key)
		if !ok {
			b.addFatal(e.Key, path, "keys must be names, got "+describe(e.Key, ""))
			continue
		}
		if strings.ContainsAny(key, "\r\n") {
			// goccy/go-yaml cannot write such a key back (it breaks the mapping)
			b.addFatal(e.Key, path, fmt.Sprintf("key %s must be on one line", quote(key)))
			continue
		}
		if prev, dup := first[key]; dup {
			line, _ := position(prev)
			b.report(e.Key, joinPath(path, keySeg(key)), fmt.Sprintf("duplicate key (first at line %d); remove one", line))
			continue
		}
		first[key] = e.Key
		out = append(out, entry{key: key, keyN: e.Key, value: e.Value})
	}
	for _, m := range merged {
		for _, src := range b.mergeSources(m, path) {
			if merging[src] {
				continue // a mapping that merges itself
			}
			merging[src] = true
			for _, e := range b.entries(src, path, merging) {
				if _, dup := first[e.key]; !dup {
					first[e.key] = e.keyN
					out = append(out, e)
				}
			}
			delete(merging, src)
		}
	}
	return out
}

// mergeSources returns the mappings that a "<<" key merges in: one mapping
// or a list of them.
func (b *builder) mergeSources(v ast.Node, path string) []ast.Node {
	n, ok := b.follow(v, path)
	if !ok {
		return nil
	}
	var ms []ast.Node
	if seq, isSeq := n.(*ast.SequenceNode); isSeq {
		for _, m := range seq.Values {
			if m, ok := b.follow(m, path); ok {
				ms = append(ms, m)
			}
		}
	} else {
		ms = append(ms, n)
	}
	for i, m := range ms {
		if !isMapping(m) {
			b.addFatal(m, path, "<< must merge a mapping or a list of mappings, got "+describe(m, path))
			return ms[:i]
		}
	}
	return ms
}

// list makes the instance of a list.
func (b *builder) list(seq *ast.SequenceNode, t reflect.Type, path string) (any, bool) {
	var elem reflect.Type
	if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		elem = t.Elem()
		if t.Kind() == reflect.Array && len(seq.Values) > t.Len() {
			b.add(seq, path, fmt.Sprintf("must have at most %d items, got %d", t.Len(), len(seq.Values)))
			return nil, false
		}
	}
	out := make([]any, len(seq.Values))
	for i, e := range seq.Values {
		v, _ := b.value(e, elem, joinPath(path, indexSeg(i)))
		out[i] = v
	}
	return out, true
}

// empty reports whether encoding/json would leave v, the instance of a
// value of type t, out of an object under omitempty: false, 0, "", an empty
// list or mapping, a nil pointer (a zero duration too, which is 0 there).
func empty(v any, t reflect.Type) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case string:
		if t == durationType {
			d, err := time.ParseDuration(x)
			return err == nil && d == 0
		}
		return x == "" && t.Kind() == reflect.String
	case json.Number:
		f, err := x.Float64()
		return err == nil && f == 0 && t.Kind() != reflect.Pointer
	case []any:
		return len(x) == 0 && t.Kind() != reflect.Pointer
	case map[string]any:
		return len(x) == 0 && t.Kind() == reflect.Map
	}
	return false
}

// zero reports whether v, the instance of a value of type t, is of the
// zero value, which encoding/json leaves out under omitzero.
func zero(v any, t reflect.Type) bool {
	if v == nil {
		return true
	}
	if t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		return false // set: not nil
	}
	if encodesItself(t) && t != durationType {
		return false
	}
	if t.Kind() == reflect.Struct {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		fields := decodedFields(t)
		for k, e := range m {
			i := slices.IndexFunc(fields, func(f structField) bool { return f.json == k })
			if i < 0 || !zero(e, fields[i].typ) {
				return false // an unknown key is not zero: the schema reports it
			}
		}
		return true
	}
	return empty(v, t)
}

// zeroInstance is the instance of the zero value of t, as encoding/json
// encodes it; ok is false for null.
func zeroInstance(t reflect.Type) (any, bool) {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return nil, false
	}
	v, ok := plain(reflect.Zero(t).Interface())
	if !ok {
		return nil, false
	}
	return durationStrings(v, t), true
}

// structField is a field as the decoder names it, with its name in JSON.
type structField struct {
	name      string // the decoder's: yaml tag, else json tag, else the lower-cased Go name
	json      string // encoding/json's: json tag, else the Go name
	omitEmpty bool   // encoding/json leaves out an empty value (false, 0, "", nil, empty)
	omitZero  bool   // encoding/json leaves out the zero value
	typ       reflect.Type
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
		jname, jopts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if jname == "" {
			jname = f.Name
		}
		fs = append(fs, structField{name: name, json: jname, omitEmpty: hasOption(jopts, "omitempty"), omitZero: hasOption(jopts, "omitzero"), typ: f.Type})
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

func fieldIndex(fs []structField, name string) int {
	for i, f := range fs {
		if f.name == name {
			return i
		}
	}
	return -1
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

// got says what a value of the wrong kind is, for a message: ", got 5", or
// nothing for a string, whose text is not repeated.
func got(n ast.Node, path string) string {
	if _, ok := stringValue(n); ok {
		return ""
	}
	return ", got " + describe(n, path)
}

// invalid phrases the error of a type's own decoding of text, without the
// text (which the error may quote, and which may be a secret), and without
// the source that goccy/go-yaml's errors quote.
func invalid(err error, text, path string) string {
	if secret(path) {
		return "is not valid"
	}
	msg := err.Error()
	var ye yaml.Error
	if errors.As(err, &ye) {
		msg = lowerFirst(ye.GetMessage())
	}
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
