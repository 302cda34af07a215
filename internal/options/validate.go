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

	validator "github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/plykit/ply/option"
)

// Validate checks v (struct or pointer to struct) against its schema (see [Schema])
// and calls v's `Validate() error` if it has one: the schema's tags hold the limits,
// the method only what a schema cannot say (rules across fields, values that must
// parse), so its problems are reported beside the schema's. When src is non-nil, problems carry line:column of the offending node in src
// (the field's value node; for a missing required field, the parent mapping's
// position); a src that does not parse only leaves positions out.
//
// The value checked is v encoded with encoding/json, where a null counts as absent:
// a nil slice, map or pointer satisfies any limit but not "required". Schema
// problems are sorted by path. An error returned by the Validate method becomes
// one problem per error of its errors.Join tree; an [*option.Error] in it gives the
// field (its Field, relative to the options) and the Problem.
func Validate(v any, src *Source) []*option.Error {
	var d *document
	if src != nil {
		d, _ = parseSource(*src)
	}
	return validate(v, d)
}

func validate(v any, d *document) []*option.Error {
	t, err := structType(v)
	if err != nil {
		return []*option.Error{{Problem: err.Error()}}
	}
	ptr := pointerTo(v, t)
	c := schemaOf(t)
	if c.err != nil {
		return []*option.Error{{Problem: c.err.Error()}}
	}
	inst, err := instance(ptr, t)
	if err != nil { // a NaN, or a type that cannot encode: the Validate method may say which field
		var problems []*option.Error
		if sv, ok := ptr.(interface{ Validate() error }); ok {
			problems = validateMethod(sv, true)
		}
		if len(problems) == 0 {
			problems = []*option.Error{{Problem: err.Error()}}
		}
		problems = d.locate(problems)
		sortProblems(problems)
		return problems
	}
	var problems []*option.Error
	if err := c.schema.Validate(inst); err != nil {
		var ve *validator.ValidationError
		if errors.As(err, &ve) {
			problems = schemaProblems(ve, inst, t, d == nil)
		} else {
			problems = []*option.Error{{Problem: lowerFirst(err.Error())}}
		}
	}
	if sv, ok := ptr.(interface{ Validate() error }); ok {
		for _, p := range validateMethod(sv, len(problems) > 0) {
			p.Problem = redact(p.Problem, p.Field, inst)
			problems = append(problems, p)
		}
	}
	problems = d.locate(problems)
	sortProblems(problems)
	return slices.CompactFunc(problems, func(a, b *option.Error) bool { return *a == *b })
}

// validateMethod calls the options' own Validate, so its problems are
// reported with the schema's. A Validate may assume the schema's limits
// hold; when they do not and it panics, its problems are left out (the
// schema's already say what to fix).
func validateMethod(sv interface{ Validate() error }, schemaFailed bool) (problems []*option.Error) {
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
	v, _ := valueAt(inst, segs)
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

// instance is v, options of type t, as the schema sees them: encoded with
// encoding/json, decoded with exact numbers, nulls in objects dropped, and
// durations as strings.
func instance(v any, t reflect.Type) (any, error) {
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
	return durationStrings(dropNulls(inst), t), nil
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
func (d *document) locate(problems []*option.Error) []*option.Error {
	if d == nil {
		return problems
	}
	for i, p := range problems {
		n := d.nearest
		if d.node != nil {
			n = d.node
			if segs, ok := parsePath(p.Field); ok {
				n, _ = d.lookup(d.node, segs)
			}
		}
		problems[i].Line, problems[i].Column = position(n)
	}
	return problems
}

// errorProblems turns the error of a Validate method into problems: one
// per part of an [errors.Join] tree. An [*option.Error] (also wrapped) gives
// the field; any other error is a problem with the whole options.
func errorProblems(err error, problems []*option.Error) []*option.Error {
	if err == nil {
		return problems
	}
	// The error itself first: a joined error is split, not searched.
	fe, ok := err.(*option.Error) //nolint:errorlint // errors.As below handles wrapped errors
	if !ok {
		if multi, isMulti := err.(interface{ Unwrap() []error }); isMulti { // only a join's own parts become problems
			for _, e := range multi.Unwrap() {
				problems = errorProblems(e, problems)
			}
			return problems
		}
		if fe, ok = errors.AsType[*option.Error](err); ok { // wrapped: keep the wrapper's words, not the field twice
			return append(problems, &option.Error{Field: fe.Field, Problem: strings.Replace(err.Error(), fe.Error(), fe.Problem, 1)})
		}
		return append(problems, &option.Error{Problem: err.Error()})
	}
	return append(problems, &option.Error{Field: fe.Field, Problem: fe.Problem})
}

// schemaProblems converts the leaves of a validation error tree into problems.
// With showValue (options from code, which have no position to point at),
// a number out of its limits is shown.
func schemaProblems(ve *validator.ValidationError, inst any, t reflect.Type, showValue bool) []*option.Error {
	var problems []*option.Error
	for _, leaf := range leaves(ve) {
		problems = append(problems, leafProblems(leaf, inst, t, showValue)...)
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

// valueAt returns the value at segs in inst, the options as the schema sees
// them.
func valueAt(inst any, segs []segment) (any, bool) {
	v := inst
	for _, s := range segs {
		switch x := v.(type) {
		case map[string]any:
			v = x[s.key]
		case []any:
			if !s.isIndex() || s.index >= len(x) {
				return nil, false
			}
			v = x[s.index]
		default:
			return nil, false
		}
	}
	return v, true
}

// leafProblems phrases one leaf error; a missing or unknown property gives one
// problem per name.
func leafProblems(e *validator.ValidationError, inst any, t reflect.Type, showValue bool) []*option.Error {
	segs := instanceSegments(e.InstanceLocation, inst)
	path := formatPath(segs)
	gt, tag := goField(t, segs)
	isDuration := gt == durationType
	num := func(r *big.Rat) string {
		s := number(r)
		if v, ok := valueAt(inst, segs); ok && showValue && !secret(path) {
			if n, isNum := v.(json.Number); isNum {
				s += ", got " + display(n)
			}
		}
		return s
	}
	var msg string
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		ps := make([]*option.Error, len(k.Missing))
		for i, m := range k.Missing {
			ps[i] = &option.Error{Field: joinPath(path, keySeg(m)), Problem: "is required"}
		}
		return ps
	case *kind.AdditionalProperties:
		ps := make([]*option.Error, len(k.Properties))
		for i, name := range k.Properties {
			ps[i] = &option.Error{Field: joinPath(path, keySeg(name)), Problem: "unknown field"}
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
			want[i] = display(w)
		}
		if len(want) == 1 {
			msg = "must be " + want[0]
		} else {
			msg = "must be one of " + strings.Join(want, ", ")
		}
	case *kind.Const:
		msg = "must be " + display(k.Want)
	case *durationLimit:
		msg = k.LocalizedString(nil)
		if showValue && !secret(path) {
			msg += ", got " + formatDuration(k.got)
		}
	case *kind.Pattern:
		if isDuration {
			msg = durationMessage
			break
		}
		msg = `must match pattern "` + k.Want + `"`
		if ex := examples(tag); ex != "" {
			msg += ", such as " + ex
		}
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
	return []*option.Error{{Field: path, Problem: msg}}
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

// goField returns the Go type found at segs in struct type t (json names),
// or nil, and the tag of the struct field that holds it (for a list or map,
// the field of the list or map).
func goField(t reflect.Type, segs []segment) (reflect.Type, reflect.StructTag) {
	var tag reflect.StructTag
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
				return nil, ""
			}
			t, tag = f.Type, f.Tag
		default:
			return nil, ""
		}
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t, tag
}

// examples returns the values of the example= entries of a jsonschema tag,
// quoted, to show a pattern by example: `"ip", "principal" or "header:X-Tenant"`.
func examples(tag reflect.StructTag) string {
	var ex []string
	for kv := range strings.SplitSeq(tag.Get("jsonschema"), ",") {
		if v, ok := strings.CutPrefix(kv, "example="); ok {
			ex = append(ex, strconv.Quote(v))
		}
	}
	switch len(ex) {
	case 0:
		return ""
	case 1:
		return ex[0]
	}
	return strings.Join(ex[:len(ex)-1], ", ") + " or " + ex[len(ex)-1]
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

// number renders a limit.
func number(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// display renders a JSON value from a schema in a message.
func display(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(v)
	case json.Number:
		if r, ok := new(big.Rat).SetString(string(v)); ok {
			return number(r)
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
