package wasm

import (
	"reflect"
	"strconv"
	"strings"

	"github.com/plykit/ply/wasm/abi"
)

// optionsType makes the Go struct type of a manifest's options, so that
// the host decodes and validates a plugin's options with ply's own option
// path (strict decoding, schema limits, file:line:column, one
// [option.Error] type): each option is a field with its json name and its
// limits as jsonschema tags. Reflection runs here, at load, never per
// call.
func optionsType(fields []abi.Field) reflect.Type {
	sf := make([]reflect.StructField, len(fields))
	for i, f := range fields {
		var tags []string
		if f.Required {
			tags = append(tags, "required")
		}
		lo, hi := "minimum", "maximum"
		switch f.Type {
		case abi.TypeString:
			lo, hi = "minLength", "maxLength"
		case abi.TypeStrings:
			lo, hi = "minItems", "maxItems"
		}
		if f.Min != nil {
			tags = append(tags, lo+"="+number(*f.Min, f.Type))
		}
		if f.Max != nil {
			tags = append(tags, hi+"="+number(*f.Max, f.Type))
		}
		for _, v := range f.Enum {
			tags = append(tags, "enum="+escape(v))
		}
		if f.Pattern != "" {
			tags = append(tags, "pattern="+escape(f.Pattern))
		}
		tag := `json:` + strconv.Quote(f.Name+",omitempty")
		if len(tags) > 0 {
			tag += ` jsonschema:` + strconv.Quote(strings.Join(tags, ","))
		}
		if f.Description != "" {
			tag += ` jsonschema_description:` + strconv.Quote(f.Description)
		}
		sf[i] = reflect.StructField{Name: "F" + strconv.Itoa(i), Type: goType(f.Type), Tag: reflect.StructTag(tag)}
	}
	return reflect.StructOf(sf)
}

func number(v float64, t abi.Type) string {
	if t != abi.TypeFloat {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func escape(s string) string { return strings.ReplaceAll(s, ",", `\,`) }

func goType(t abi.Type) reflect.Type {
	switch t {
	case abi.TypeInt:
		return reflect.TypeFor[int64]()
	case abi.TypeBool:
		return reflect.TypeFor[bool]()
	case abi.TypeFloat:
		return reflect.TypeFor[float64]()
	case abi.TypeStrings:
		return reflect.TypeFor[[]string]()
	}
	return reflect.TypeFor[string]()
}

// encodeOptions encodes the options struct v (a pointer made from
// optionsType) for ply_init: the options that are set (non-zero), by
// index. Zero means the guest's default, as for a native plugin.
func encodeOptions(fields []abi.Field, v reflect.Value) []byte {
	v = v.Elem()
	w := abi.NewWriter(nil)
	var set []int
	for i := range fields {
		if !v.Field(i).IsZero() {
			set = append(set, i)
		}
	}
	w.Uvarint(uint64(len(set)))
	for _, i := range set {
		w.Uvarint(uint64(i)) //nolint:gosec // an index
		f := v.Field(i)
		switch fields[i].Type {
		case abi.TypeString:
			w.String(f.String())
		case abi.TypeInt:
			w.Varint(f.Int())
		case abi.TypeBool:
			w.Bool(f.Bool())
		case abi.TypeFloat:
			w.Float(f.Float())
		case abi.TypeStrings:
			w.Uvarint(uint64(f.Len())) //nolint:gosec // a length
			for j := range f.Len() {
				w.String(f.Index(j).String())
			}
		}
	}
	return w.Bytes()
}
