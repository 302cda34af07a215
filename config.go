package ply

import (
	"fmt"
	"reflect"

	"github.com/plykit/ply/internal/options"
	"github.com/plykit/ply/option"
)

// checkOptions validates e's options, returning one *option.Error per
// problem. Options from a file are decoded into a new value of the options
// struct's type, kept in e for Start to put in place ([fileOptions.apply]):
// the build writes nothing into the plugin.
func checkOptions(e *entry, files map[string]RawOptions) []error {
	c, ok := e.p.(Configurable)
	if !ok {
		return nil
	}
	dst := c.Options()
	if dst == nil {
		return nil
	}
	var problems []*option.Error
	raw, fromFile := files[e.info.ID()] // keyed name@version when several versions are registered
	if !fromFile {
		raw, fromFile = files[e.info.Name]
	}
	file := ""
	if fromFile {
		file = raw.File
		decoded := dst // not a pointer: Load reports it, and writes nothing
		if v := reflect.ValueOf(dst); v.Kind() == reflect.Pointer && !v.IsNil() {
			decoded = reflect.New(v.Type().Elem()).Interface()
		}
		problems = options.Load(options.Source{File: raw.File, Data: raw.Data, Path: raw.Path, Env: raw.Env}, decoded)
		if len(problems) == 0 {
			e.fileOpts = fileOptions{dst: dst, decoded: decoded}
		}
	} else {
		problems = options.Validate(dst, nil)
	}
	errs := make([]error, len(problems))
	for i, p := range problems {
		p.Plugin, p.File = e.info.Name, file
		errs[i] = p
	}
	return errs
}

// fileOptions are a plugin's options from a file, decoded at build, and
// where Start puts them.
type fileOptions struct {
	dst, decoded any // pointers to the same struct type; nil when none
}

// apply replaces the plugin's options with the decoded ones.
func (o fileOptions) apply() {
	if o.dst != nil {
		reflect.ValueOf(o.dst).Elem().Set(reflect.ValueOf(o.decoded).Elem())
	}
}

// Schema returns the JSON Schema (draft 2020-12) of the plugin's options, or
// nil when it takes none.
func Schema(p Plugin) ([]byte, error) {
	c, ok := p.(Configurable)
	if !ok || c.Options() == nil {
		return nil, nil
	}
	return options.Schema(c.Options())
}

// handlerOptions decodes and validates one plugin's options for a module or
// handler: v is a pointer to the plugin's handler options struct, or
// RawOptions. module and handler (empty for module options) are named in
// errors.
func (r *resolved) handlerOptions(plugin string, v any, module, handler string) (any, []error) {
	where := option.Error{Plugin: plugin, Module: module, Handler: handler}
	fail := func(problem string) []error {
		ce := where
		ce.Problem = problem
		return []error{&ce}
	}
	es := r.byName[plugin]
	if len(es) == 0 {
		return nil, fail("no plugin of that name is registered")
	}
	if es[0].hooks.handlerOpts == nil {
		return nil, fail("the plugin takes no module or handler options")
	}
	fresh := es[0].hooks.handlerOpts()
	var problems []*option.Error
	switch raw := v.(type) {
	case RawOptions:
		where.File = raw.File
		problems = options.Load(options.Source{File: raw.File, Data: raw.Data, Path: raw.Path, Env: raw.Env}, fresh)
	default:
		if reflect.TypeOf(v) != reflect.TypeOf(fresh) {
			return nil, fail(fmt.Sprintf("options are a %T; want a %T or ply.RawOptions", v, fresh))
		}
		fresh = v
		problems = options.Validate(v, nil)
	}
	errs := make([]error, len(problems))
	for i, p := range problems {
		p.Plugin, p.Module, p.Handler, p.File = where.Plugin, where.Module, where.Handler, where.File
		errs[i] = p
	}
	return fresh, errs
}
