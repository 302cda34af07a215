package options

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	validator "github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Validate checks v (struct or pointer to struct) against its schema (see [Schema])
// and then, if the schema found no problems, calls v's `Validate() error` if it has
// one. When src is non-nil, problems carry line:column of the offending node in src
// (the field's value node; for a missing required field, the parent mapping's
// position); a src that does not parse only leaves positions out.
//
// The value checked is v encoded with encoding/json, where a null counts as absent:
// a nil slice, map or pointer satisfies any limit but not "required". Schema
// problems are sorted by path. An error returned by the Validate method becomes
// one Problem per error of its errors.Join tree; an error that has a
// `Field() string` method gives the path (dotted, relative to the options), and its
// message, less any "field: " prefix, is the Message.
func Validate(v any, src *Source) []Problem {
	var d *document
	if src != nil {
		d, _ = parseSource(*src)
	}
	return validate(v, d)
}

func validate(v any, d *document) []Problem {
	t, err := structType(v)
	if err != nil {
		return []Problem{{Message: err.Error()}}
	}
	ptr := pointerTo(v, t)
	c := schemaOf(t)
	if c.err != nil {
		return []Problem{{Message: c.err.Error()}}
	}
	inst, err := instance(ptr)
	if err != nil {
		return d.locate([]Problem{{Message: err.Error()}})
	}
	var problems []Problem
	if err := c.schema.Validate(inst); err != nil {
		var ve *validator.ValidationError
		if errors.As(err, &ve) {
			problems = schemaProblems(ve, inst, t)
		} else {
			problems = []Problem{{Message: lowerFirst(err.Error())}}
		}
	}
	if sv, ok := ptr.(interface{ Validate() error }); ok {
		// A Validate method may check again a limit that the schema checks,
		// in its own words: one problem gets one message, the schema's.
		checked := map[string]bool{}
		for _, p := range problems {
			checked[p.Path] = true
		}
		for _, p := range validateMethod(sv, len(problems) > 0) {
			if !checked[p.Path] {
				p.Message = redact(p.Message, p.Path, inst)
				problems = append(problems, p)
			}
		}
	}
	problems = d.locate(problems)
	sortProblems(problems)
	return slices.CompactFunc(problems, func(a, b Problem) bool { return a == b })
}

// validateMethod calls the options' own Validate, so its problems are
// reported with the schema's. A Validate may assume the schema's limits
// hold; when they do not and it panics, its problems are left out (the
// schema's already say what to fix).
func validateMethod(sv interface{ Validate() error }, schemaFailed bool) (problems []Problem) {
	defer func() {
		if v := recover(); v != nil {
			if !schemaFailed {
				panic(v) // a Validate that panics on schema-valid options is a bug to see
			}
			problems = nil
		}
	}()
	return errorProblems(sv.Validate(), nil)
}

// redact takes out of a Validate method's message the string value at path,
// which it may quote (`got "cookie"`): it may be a secret, and messages end
// up in logs. Under a path that names a secret, the value goes even
// unquoted.
func redact(msg, path string, inst any) string {
	segs, ok := parsePath(path)
	if !ok || path == "" {
		return msg
	}
	v := inst
	for _, s := range segs {
		switch x := v.(type) {
		case map[string]any:
			v = x[s.key]
		case []any:
			if !s.isIndex() || s.index >= len(x) {
				return msg
			}
			v = x[s.index]
		default:
			return msg
		}
	}
	text, ok := v.(string)
	if !ok || text == "" {
		return msg
	}
	msg = strings.ReplaceAll(msg, strconv.Quote(text), `"…"`)
	if secret(path) && len(text) >= 4 {
		msg = strings.ReplaceAll(msg, text, "…")
	}
	return msg
}

// pointerTo returns a *T for v, a T or a pointer (to a pointer…) to T: v itself
// when it is a non-nil *T, else a pointer to a copy or to a zero T.
func pointerTo(v any, t reflect.Type) any {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer && !rv.IsNil() && rv.Type().Elem() != t {
		rv = rv.Elem()
	}
	switch {
	case rv.Kind() == reflect.Pointer && !rv.IsNil():
		return rv.Interface()
	case rv.Kind() == reflect.Struct:
		p := reflect.New(t)
		p.Elem().Set(rv)
		return p.Interface()
	}
	return reflect.New(t).Interface()
}

// instance is v as the schema sees it: encoded with encoding/json, decoded with
// exact numbers, nulls in objects dropped.
func instance(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("cannot encode the options as JSON: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var inst any
	if err := dec.Decode(&inst); err != nil {
		return nil, fmt.Errorf("cannot encode the options as JSON: %w", err)
	}
	return dropNulls(inst), nil
}

func dropNulls(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if e == nil {
				delete(v, k)
			} else {
				v[k] = dropNulls(e)
			}
		}
	case []any:
		for i, e := range v {
			v[i] = dropNulls(e)
		}
	}
	return v
}

// locate sets the positions of problems from the document, if there is one.
func (d *document) locate(problems []Problem) []Problem {
	if d == nil {
		return problems
	}
	for i, p := range problems {
		n := d.nearest
		if d.node != nil {
			n = d.node
			if segs, ok := parsePath(p.Path); ok {
				n, _ = d.lookup(d.node, segs)
			}
		}
		problems[i].Line, problems[i].Column = position(n)
	}
	return problems
}

// errorProblems turns the error of a Validate method into problems.
func errorProblems(err error, problems []Problem) []Problem {
	type fielder interface{ Field() string }
	if err == nil {
		return problems
	}
	// The error itself first: a joined error is split, not searched.
	f, ok := err.(fielder) // errors.As below handles wrapped errors
	if !ok {
		if multi, isMulti := err.(interface{ Unwrap() []error }); isMulti { // only a join's own parts become problems
			for _, e := range multi.Unwrap() {
				problems = errorProblems(e, problems)
			}
			return problems
		}
		ok = errors.As(err, &f)
	}
	p := Problem{Message: err.Error()}
	if ok {
		p.Path = f.Field()
		p.Message = strings.TrimPrefix(p.Message, p.Path+": ")
	}
	return append(problems, p)
}

// schemaProblems converts the leaves of a validation error tree into problems.
func schemaProblems(ve *validator.ValidationError, inst any, t reflect.Type) []Problem {
	var problems []Problem
	for _, leaf := range leaves(ve) {
		problems = append(problems, leafProblems(leaf, inst, t)...)
	}
	return problems
}

// leaves returns the deepest causes of e. Of the alternatives of a failed anyOf or
// oneOf, it keeps those whose type matched, if any.
func leaves(e *validator.ValidationError) []*validator.ValidationError {
	if len(e.Causes) == 0 {
		return []*validator.ValidationError{e}
	}
	switch e.ErrorKind.(type) {
	case *kind.AnyOf, *kind.OneOf:
		var typed, all []*validator.ValidationError
		for _, alt := range e.Causes {
			ls := leaves(alt)
			all = append(all, ls...)
			if !typeMismatch(ls, e.InstanceLocation) {
				typed = append(typed, ls...)
			}
		}
		if len(typed) > 0 {
			return typed
		}
		return []*validator.ValidationError{mergeTypes(e, all)}
	}
	var ls []*validator.ValidationError
	for _, c := range e.Causes {
		ls = append(ls, leaves(c)...)
	}
	return ls
}

func typeMismatch(ls []*validator.ValidationError, loc []string) bool {
	for _, l := range ls {
		if _, ok := l.ErrorKind.(*kind.Type); ok && slices.Equal(l.InstanceLocation, loc) {
			return true
		}
	}
	return false
}

// mergeTypes turns the type errors of all alternatives into one.
func mergeTypes(e *validator.ValidationError, all []*validator.ValidationError) *validator.ValidationError {
	merged := &kind.Type{}
	for _, l := range all {
		if k, ok := l.ErrorKind.(*kind.Type); ok && slices.Equal(l.InstanceLocation, e.InstanceLocation) {
			merged.Got = k.Got
			for _, w := range k.Want {
				if !slices.Contains(merged.Want, w) {
					merged.Want = append(merged.Want, w)
				}
			}
		}
	}
	if merged.Got == "" {
		return &validator.ValidationError{InstanceLocation: e.InstanceLocation, ErrorKind: e.ErrorKind}
	}
	return &validator.ValidationError{InstanceLocation: e.InstanceLocation, ErrorKind: merged}
}

// leafProblems phrases one leaf error; a missing or unknown property gives one
// problem per name.
func leafProblems(e *validator.ValidationError, inst any, t reflect.Type) []Problem {
	segs := instanceSegments(e.InstanceLocation, inst)
	path := formatPath(segs)
	isDuration := goType(t, segs) == durationType
	num := func(r *big.Rat) string { return number(r, isDuration) }
	var msg string
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		ps := make([]Problem, len(k.Missing))
		for i, m := range k.Missing {
			ps[i] = Problem{Path: joinPath(path, keySeg(m)), Message: "is required"}
		}
		return ps
	case *kind.AdditionalProperties:
		ps := make([]Problem, len(k.Properties))
		for i, name := range k.Properties {
			ps[i] = Problem{Path: joinPath(path, keySeg(name)), Message: "unknown field"}
		}
		return ps
	case *kind.Minimum:
		msg = "must be >= " + num(k.Want)
	case *kind.Maximum:
		msg = "must be <= " + num(k.Want)
	case *kind.ExclusiveMinimum:
		msg = "must be > " + num(k.Want)
	case *kind.ExclusiveMaximum:
		msg = "must be < " + num(k.Want)
	case *kind.MultipleOf:
		msg = "must be a multiple of " + num(k.Want)
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = display(w, isDuration)
		}
		if len(want) == 1 {
			msg = "must be " + want[0]
		} else {
			msg = "must be one of " + strings.Join(want, ", ")
		}
	case *kind.Const:
		msg = "must be " + display(k.Want, isDuration)
	case *kind.Pattern:
		msg = `must match pattern "` + k.Want + `"`
	case *kind.MinLength:
		if k.Want == 1 {
			msg = "must not be empty"
		} else {
			msg = fmt.Sprintf("must be at least %d characters long", k.Want)
		}
	case *kind.MaxLength:
		msg = fmt.Sprintf("must be at most %d characters long", k.Want)
	case *kind.MinItems:
		if k.Want == 1 {
			msg = "must not be empty"
		} else {
			msg = fmt.Sprintf("must have at least %d items", k.Want)
		}
	case *kind.MaxItems:
		msg = fmt.Sprintf("must have at most %d items", k.Want)
	case *kind.MinProperties:
		msg = fmt.Sprintf("must have at least %d entries", k.Want)
	case *kind.MaxProperties:
		msg = fmt.Sprintf("must have at most %d entries", k.Want)
	case *kind.UniqueItems:
		msg = fmt.Sprintf("must not repeat items ([%d] and [%d] are equal)", k.Duplicates[0], k.Duplicates[1])
	case *kind.Format:
		msg = "must be a valid " + k.Want
	case *kind.Type:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = jsonTypePhrase(w)
		}
		got := jsonTypePhrase(k.Got)
		if k.Got == "boolean" {
			got = "a boolean"
		}
		msg = fmt.Sprintf("must be %s, got %s", strings.Join(want, " or "), got)
	case *kind.FalseSchema:
		msg = "is not allowed"
	default:
		msg = lowerFirst(e.ErrorKind.LocalizedString(message.NewPrinter(language.English)))
	}
	return []Problem{{Path: path, Message: msg}}
}

// instanceSegments converts a JSON pointer's segments into path segments: a
// segment that indexes a list becomes an index.
func instanceSegments(loc []string, inst any) []segment {
	segs := make([]segment, 0, len(loc))
	for _, s := range loc {
		switch v := inst.(type) {
		case []any:
			if i, err := strconv.Atoi(s); err == nil && i >= 0 && i < len(v) {
				segs = append(segs, indexSeg(i))
				inst = v[i]
				continue
			}
		case map[string]any:
			inst = v[s]
		}
		segs = append(segs, keySeg(s))
	}
	return segs
}

// goType returns the Go type found at segs in struct type t (json names), or nil.
func goType(t reflect.Type, segs []segment) reflect.Type {
	for _, s := range segs {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Slice, reflect.Array, reflect.Map:
			t = t.Elem()
		case reflect.Struct:
			f, ok := jsonField(t, s.key)
			if !ok || s.isIndex() {
				return nil
			}
			t = f.Type
		default:
			return nil
		}
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// jsonField finds the field of t that encoding/json names name.
func jsonField(t reflect.Type, name string) (reflect.StructField, bool) {
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || len(f.Index) > 1 && !embeddedVisible(t, f) {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" {
			continue
		}
		if tag == "" {
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				continue
			}
			tag = f.Name
		}
		if tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// embeddedVisible reports whether the promoted field f of t is encoded by
// encoding/json: every struct it is promoted through is embedded without a name.
func embeddedVisible(t reflect.Type, f reflect.StructField) bool {
	for _, i := range f.Index[:len(f.Index)-1] {
		sf := t.Field(i)
		if name, _, _ := strings.Cut(sf.Tag.Get("json"), ","); name != "" || !sf.Anonymous {
			return false
		}
		t = sf.Type
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
	}
	return true
}

// number renders a limit; a duration's limit (in nanoseconds) as a duration.
func number(r *big.Rat, isDuration bool) string {
	if r.IsInt() {
		if isDuration && r.Num().IsInt64() {
			return time.Duration(r.Num().Int64()).String()
		}
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// display renders a JSON value from a schema in a message.
func display(v any, isDuration bool) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(v)
	case json.Number:
		if r, ok := new(big.Rat).SetString(string(v)); ok {
			return number(r, isDuration)
		}
		return string(v)
	case bool:
		return strconv.FormatBool(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func jsonTypePhrase(t string) string {
	switch t {
	case "string":
		return "a string"
	case "integer":
		return "an integer"
	case "number":
		return "a number"
	case "boolean":
		return "true or false"
	case "object":
		return "a mapping"
	case "array":
		return "a list"
	}
	return t
}
