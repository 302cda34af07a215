package options

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/invopop/jsonschema"
	validator "github.com/santhosh-tekuri/jsonschema/v6"
)

var durationType = reflect.TypeFor[time.Duration]()

// compiled is the schema of one options type, generated and compiled once.
type compiled struct {
	json   []byte
	schema *validator.Schema
	err    error
}

// schemas caches a *compiled per options type (a struct type, never a pointer).
var schemas sync.Map

// Schema returns the JSON Schema (draft 2020-12) of the options type of v (a struct
// or pointer to struct), as JSON. Properties are named by the fields' json tags, only
// fields tagged `jsonschema:"required"` are required, unknown properties are not
// allowed, and limits come from the other `jsonschema` tags (minimum, maximum, enum,
// pattern, minLength…). A [time.Duration] is a string as written in a file ("1.5s"),
// matching the pattern of [time.ParseDuration]; its minimum and maximum tags (written
// "1ms", or in nanoseconds) become the keywords minDuration and maxDuration, which
// this package checks.
//
// The result is cached per type and is safe for concurrent use; callers may modify
// the returned slice. Schema returns an error if v is not a struct or a pointer to
// one, or if the generated schema does not compile (for example a bad pattern).
func Schema(v any) ([]byte, error) {
	t, err := structType(v)
	if err != nil {
		return nil, err
	}
	c := schemaOf(t)
	if c.err != nil {
		return nil, c.err
	}
	return bytes.Clone(c.json), nil
}

// structType returns the struct type of v, a struct or pointer to struct.
func structType(v any) (reflect.Type, error) {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("options must be a struct or a pointer to a struct, got %T", v)
	}
	return t, nil
}

func schemaOf(t reflect.Type) *compiled {
	if c, ok := schemas.Load(t); ok {
		return c.(*compiled)
	}
	c, _ := schemas.LoadOrStore(t, compile(t))
	return c.(*compiled)
}

func compile(t reflect.Type) (c *compiled) {
	c = &compiled{}
	defer func() {
		// invopop/jsonschema panics on types it cannot describe (chan, func, complex).
		if r := recover(); r != nil {
			c.err = fmt.Errorf("generate schema for %s: %v", t, r)
		}
	}()
	r := &jsonschema.Reflector{
		Anonymous: true,
		// References only where they are needed: a type that contains itself.
		DoNotReference:             !recursive(t, map[reflect.Type]bool{}),
		RequiredFromJSONSchemaTags: true,
		AllowAdditionalProperties:  false,
		Mapper:                     mapType,
	}
	sch := r.ReflectFromType(t)
	if err := describeDurations(t, sch, "", sch.Definitions, map[*jsonschema.Schema]bool{}); err != nil {
		c.err = fmt.Errorf("generate schema for %s: %w", t, err)
		return c
	}
	b, err := json.MarshalIndent(sch, "", "  ")
	if err != nil {
		c.err = fmt.Errorf("generate schema for %s: %w", t, err)
		return c
	}
	c.json = b
	doc, err := validator.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		c.err = fmt.Errorf("generate schema for %s: %w", t, err)
		return c
	}
	const url = "mem:///options.schema.json" // one compiler per type: no clashes
	vocab, err := durationVocab()
	if err != nil {
		c.err = fmt.Errorf("compile schema for %s: %w", t, err)
		return c
	}
	comp := validator.NewCompiler()
	comp.DefaultDraft(validator.Draft2020)
	comp.AssertFormat()
	comp.RegisterVocabulary(vocab)
	comp.AssertVocabs()
	if err := comp.AddResource(url, doc); err != nil {
		c.err = fmt.Errorf("compile schema for %s: %w", t, err)
		return c
	}
	if c.schema, err = comp.Compile(url); err != nil {
		c.err = fmt.Errorf("compile schema for %s: %w", t, err)
	}
	return c
}

// mapType describes the types whose JSON encoding the reflector would get wrong;
// nil leaves a type to the reflector.
func mapType(t reflect.Type) *jsonschema.Schema {
	pt := reflect.PointerTo(t)
	switch {
	case t == timeType, hasMethod(pt, "JSONSchema"), hasMethod(pt, "JSONSchemaAlias"):
		return nil // the reflector knows these
	case pt.Implements(jsonMarshalerType):
		if encodesAsString(t) {
			return &jsonschema.Schema{Type: "string"}
		}
		return &jsonschema.Schema{} // any JSON value: only the type knows its encoding
	case pt.Implements(textMarshalerType):
		return &jsonschema.Schema{Type: "string"} // such as slog.Level or net.IP
	}
	return nil
}

// encodesAsString reports whether the zero value of t, a json.Marshaler, encodes
// as a JSON string, and so (presumably) every value of t.
func encodesAsString(t reflect.Type) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	b, err := json.Marshal(reflect.New(t).Interface())
	return err == nil && len(b) > 0 && b[0] == '"'
}

func hasMethod(t reflect.Type, name string) bool {
	_, ok := t.MethodByName(name)
	return ok
}

// recursive reports whether struct type t contains itself, which the reflector can
// only describe with references.
func recursive(t reflect.Type, seen map[reflect.Type]bool) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		return recursive(t.Elem(), seen)
	case reflect.Struct:
		if seen[t] {
			return true
		}
		seen[t] = true
		defer delete(seen, t)
		for i := range t.NumField() {
			if recursive(t.Field(i).Type, seen) {
				return true
			}
		}
	}
	return false
}
