package options

import (
	"reflect"
	"strings"

	"github.com/plykit/ply/option"
)

// Overlay returns a new value of base's type (base is a pointer to a
// struct): a copy of base whose top-level fields that src sets are replaced
// by src's values. src is decoded strictly, as [Decode] does, and the
// result is validated as a whole, as [Validate] does; problems carry paths
// relative to the options and src's positions. The copy is shallow: maps
// and slices of fields src does not set are shared with base.
func Overlay(src Source, base any) (any, []*option.Error) {
	if ok, p := destination(base); !ok {
		return nil, []*option.Error{p}
	}
	t := reflect.TypeOf(base).Elem()
	fresh := reflect.New(t)
	d, problems := decode(src, fresh.Interface())
	if len(problems) > 0 {
		return nil, problems
	}
	out := reflect.New(t)
	out.Elem().Set(reflect.ValueOf(base).Elem())
	if d != nil && d.node != nil {
		entries, _ := mappingEntries(d.resolve(d.node))
		for _, e := range entries {
			key, ok := keyText(e.Key)
			if !ok {
				continue
			}
			if i := topField(t, key); i >= 0 {
				out.Elem().Field(i).Set(fresh.Elem().Field(i))
			}
		}
	}
	if ps := validate(out.Interface(), d); len(ps) > 0 {
		return nil, ps
	}
	return out.Interface(), nil
}

// topField returns the index of t's field that the decoder names key, or
// -1.
func topField(t reflect.Type, key string) int {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.PkgPath != "" {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "" {
			tag = f.Tag.Get("json")
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		if name == key {
			return i
		}
	}
	return -1
}
