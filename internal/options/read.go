package options

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"
	validator "github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/plykit/ply/option"
)

// read decodes the options node into dst, which it zeroes first. The
// schema checks the node as written (see [builder]), so every problem is
// found before decoding, with the node at fault; values of the wrong type
// are then left out, and the rest is decoded. With validate, the limits are
// checked too, and the options' Validate method runs on what was decoded;
// without, only what keeps the node from decoding is reported (Decode).
func (d *document) read(dst any, validate bool) []*option.Error {
	if ok, p := destination(dst); !ok {
		return []*option.Error{p}
	}
	out := reflect.ValueOf(dst).Elem()
	out.SetZero()
	t := out.Type()
	c := schemaOf(t)
	if c.err != nil {
		return []*option.Error{{Problem: c.err.Error()}}
	}
	problems := slices.Clone(d.env)
	b := newBuilder(d)
	inst := any(map[string]any{})
	if d.node != nil {
		if v, ok := b.value(d.node, t, ""); ok {
			inst = v
		}
	}
	problems = append(problems, b.problems...)
	if b.fatal {
		sortProblems(problems)
		return problems
	}
	left := slices.Clone(b.badPaths) // left out by the builder: the schema's problems there follow from it
	var schemaPs []*option.Error
	if err := c.schema.Validate(inst); err != nil {
		var ve *validator.ValidationError
		if !errors.As(err, &ve) {
			return append(problems, &option.Error{Problem: lowerFirst(err.Error())})
		}
		for _, leaf := range leaves(ve) {
			if !validate && !undecodable(leaf, t, inst) {
				continue
			}
			for _, p := range b.phrase(leaf, inst, t) {
				if !under(p.Field, left) {
					schemaPs = append(schemaPs, p)
				}
			}
		}
	}
	schemaFailed := len(schemaPs) > 0
	if b.fatal {
		problems = append(problems, schemaPs...)
		sortProblems(problems)
		return problems
	}
	decoded := true
	var refused []string
	if d.node != nil {
		d.prune(b.bad)
		before := len(b.badPaths)
		decoded = d.decodeAll(out, b, &problems)
		refused = b.badPaths[before:] // values the decoder refused: the schema's problems there follow from it
	}
	for _, p := range schemaPs {
		if !under(p.Field, refused) {
			problems = append(problems, p)
		}
	}
	if !decoded {
		sortProblems(problems)
		return problems
	}
	if sv, ok := dst.(interface{ Validate() error }); ok && validate {
		for _, p := range validateMethod(sv, schemaFailed) {
			if under(p.Field, b.badPaths) {
				continue // it follows from a value left out
			}
			p.Problem = redact(p.Problem, p.Field, inst)
			p.Line, p.Column = b.position(p.Field)
			problems = append(problems, p)
		}
	}
	sortProblems(problems)
	return slices.CompactFunc(problems, func(a, b *option.Error) bool { return *a == *b })
}

// undecodable reports whether a schema problem keeps the value from
// decoding: an unknown key, a value of the wrong type, a bad duration. The
// others are limits, which Decode does not check.
func undecodable(leaf *validator.ValidationError, t reflect.Type, inst any) bool {
	switch leaf.ErrorKind.(type) {
	case *kind.AdditionalProperties, *kind.Type, *kind.FalseSchema:
		return true
	case *kind.Pattern:
		gt, _ := goField(t, instanceSegments(leaf.InstanceLocation, inst))
		return gt == durationType
	}
	return false
}

// decodeAll decodes the options node into out. The decoder stops at its
// first error: a value it cannot take that the schema let through (an
// integer out of the field's range…) is reported, left out, and decoding
// starts again, until it succeeds or the error is at the options node
// itself (decoded false).
func (d *document) decodeAll(out reflect.Value, b *builder, problems *[]*option.Error) (decoded bool) {
	for range 10 { // each round leaves out one more value; the builder foresees most
		v := reflect.New(out.Type())
		err := d.decodeInto(v.Interface(), !b.unknown)
		if err == nil {
			out.Set(v.Elem())
			return true
		}
		p := d.decodeProblem(err)
		n, found := b.values[p.Field]
		if found && b.types[p.Field] != nil {
			p.Problem = mustBe(b.types[p.Field], n, p.Field) // the decoder's words may repeat the value
		}
		*problems = append(*problems, p)
		if !found || p.Field == "" || b.bad[n] {
			return false
		}
		b.leaveOut(n, p.Field)
		d.prune(map[ast.Node]bool{n: true})
	}
	return false
}

// mustBe says what a value that the decoder refused for type t must be: an
// integer in the range of t, a number in the range of float32…
func mustBe(t reflect.Type, n ast.Node, path string) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		bits := t.Bits()
		return fmt.Sprintf("must be an integer from %d to %d, got %s", math.MinInt64>>(64-bits), math.MaxInt64>>(64-bits), describe(n, path))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return fmt.Sprintf("must be an integer from 0 to %d, got %s", uint64(math.MaxUint64)>>(64-t.Bits()), describe(n, path))
	case reflect.Float32:
		return fmt.Sprintf("must be a number from %g to %g, got %s", -math.MaxFloat32, math.MaxFloat32, describe(n, path))
	}
	return "must be " + typePhrase(t) + got(n, path)
}

// position returns where the value at path is, or the nearest node on the
// way to it when it is absent (a required field: its mapping).
func (b *builder) position(path string) (line, col int) {
	if n, ok := b.values[path]; ok {
		return position(n)
	}
	segs, ok := parsePath(path)
	if ok {
		for i := len(segs) - 1; i >= 0; i-- {
			if n, ok := b.values[formatPath(segs[:i])]; ok {
				return position(n)
			}
		}
	}
	if b.d.node != nil {
		return position(b.d.node)
	}
	return position(b.d.nearest)
}

// phrase turns one schema problem with the options node into problems at
// the node that holds it: at the key for an unknown field (with the closest
// field name), at the mapping for a missing one, else at the value; a value
// of the wrong type is left out of decoding.
func (b *builder) phrase(leaf *validator.ValidationError, inst any, t reflect.Type) []*option.Error {
	segs := instanceSegments(leaf.InstanceLocation, inst)
	path := formatPath(segs)
	switch k := leaf.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		var fields []structField
		if pt := b.types[path]; pt != nil && pt.Kind() == reflect.Struct {
			fields = decodedFields(pt)
		}
		ps := make([]*option.Error, len(k.Properties))
		for i, name := range k.Properties {
			p := joinPath(path, keySeg(name))
			msg := "unknown field"
			if fields != nil {
				msg = unknownField(name, fields)
			}
			line, col := position(b.keys[p])
			ps[i] = &option.Error{Field: p, Line: line, Column: col, Problem: msg}
		}
		return ps
	case *kind.Type:
		n := b.values[path]
		gt, _ := goField(t, segs)
		line, col := position(n)
		p := &option.Error{Field: path, Line: line, Column: col, Problem: typeMessage(k, n, gt, path)}
		b.leaveOut(n, path)
		return []*option.Error{p}
	case *kind.Pattern:
		if gt, _ := goField(t, segs); gt == durationType {
			n := b.values[path]
			line, col := position(n)
			b.leaveOut(n, path)
			return []*option.Error{{Field: path, Line: line, Column: col, Problem: durationMessage}}
		}
	}
	ps := leafProblems(leaf, inst, t, false)
	for _, p := range ps {
		p.Line, p.Column = b.position(p.Field)
	}
	return ps
}

// typeMessage says what a value of the wrong type must be, and what it is.
func typeMessage(k *kind.Type, n ast.Node, gt reflect.Type, path string) string {
	if gt == durationType {
		return durationMessage + got(n, path)
	}
	want := make([]string, len(k.Want))
	for i, w := range k.Want {
		want[i] = jsonTypePhrase(w)
	}
	msg := "must be " + strings.Join(want, " or ") + ", got " + describe(n, path)
	if slices.Equal(k.Want, []string{"string"}) {
		switch n.(type) {
		case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
			msg += " (put it in quotes)"
		case *ast.StringNode:
			if _, isNum := plainNumber(n); isNum {
				msg += " (put it in quotes)"
			}
		}
	}
	return msg
}
