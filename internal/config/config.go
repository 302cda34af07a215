// Package config reads a ply host's YAML file: the listen address, the
// plugins with their options and priority overrides, and the modules with
// their routes. It turns the file into plugins and host options; every
// plugin's options node goes to that plugin as [ply.RawOptions] with its
// path in the file, so every problem is reported with file:line:column.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/plykit/ply"
	"github.com/plykit/ply/internal/options"
)

// File is the shape of a ply.yaml file.
type File struct {
	// Listen is the HTTP address, e.g. "127.0.0.1:8080".
	Listen  string   `json:"listen,omitempty"`
	Plugins []Plugin `json:"plugins,omitempty"`
	Modules []Module `json:"modules,omitempty"`
}

// Plugin is one entry of the plugins list.
type Plugin struct {
	Name     string `json:"name" jsonschema:"required,minLength=1"`
	Priority *int   `json:"priority,omitempty"` // operator override of the plugin's priority
	Options  any    `json:"options,omitempty"`  // decoded by the plugin itself
	Disabled bool   `json:"disabled,omitempty"`
}

// Module is a group of routes with a prefix and per-plugin options.
type Module struct {
	Name    string         `json:"name" jsonschema:"required,minLength=1"`
	Prefix  string         `json:"prefix,omitempty" jsonschema:"pattern=^(/.*)?$"`
	Options map[string]any `json:"options,omitempty"` // plugin name -> that plugin's module options
	Routes  []Route        `json:"routes,omitempty"`
}

// Route is one HTTP route with a built-in handler: exactly one of Static,
// Proxy and Files.
type Route struct {
	Route   string         `json:"route" jsonschema:"required,minLength=1"` // a ServeMux pattern: "GET /hello"
	Tags    []string       `json:"tags,omitempty"`
	Options map[string]any `json:"options,omitempty"`
	Static  *Static        `json:"static,omitempty"`
	Proxy   *Proxy         `json:"proxy,omitempty"`
	Files   *Files         `json:"files,omitempty"`
}

// Validate checks what the schema cannot: every route has exactly one
// handler.
func (f *File) Validate() error {
	var errs []error
	for i, m := range f.Modules {
		for j, r := range m.Routes {
			if n := countHandlers(r); n != 1 {
				errs = append(errs, &ply.FieldError{Path: fmt.Sprintf("modules[%d].routes[%d]", i, j),
					Problem: fmt.Sprintf("route %q: give exactly one of static, proxy and files (got %d)", r.Route, countHandlers(r))})
			}
		}
	}
	return errors.Join(errs...)
}

// A Catalog makes plugins by name: the stock set plus whatever a binary
// adds.
type Catalog map[string]func() ply.Plugin

// Host is what a file describes, ready for [ply.New].
type Host struct {
	File    File
	Plugins []ply.Plugin
	Options []ply.Option
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// Load reads a file's bytes: it replaces ${NAME} with the environment
// variable NAME (a missing one is an error; write $${NAME} for a literal),
// decodes the file strictly, and builds the plugins from the catalog.
// server is the name of the HTTP server plugin that receives Listen as its
// "addr" option. Errors are joined; each names its position. When the file
// has problems but still decodes, Load returns the host it could build
// with them, so a caller can check the plugins too ([ply.Host.Plan]) and
// report everything at once.
func Load(name string, data []byte, cat Catalog, server string) (*Host, error) {
	data, err := expand(name, data)
	if err != nil {
		return nil, err
	}
	var f File
	var errs []error
	problems := options.Load(options.Source{File: name, Data: data}, &f)
	for _, p := range problems {
		errs = append(errs, fmt.Errorf("%s:%d:%d: %s", name, p.Line, p.Column, p))
	}
	if len(problems) > 0 && isZero(f) { // nothing decoded: nothing more to check
		return nil, errors.Join(errs...)
	}
	h := &Host{File: f}
	listed := false
	for i, p := range f.Plugins {
		if p.Disabled {
			continue
		}
		newPlugin, ok := cat[p.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: plugins[%d]: no plugin named %q; known: %s", name, i, p.Name, strings.Join(names(cat), ", ")))
			continue
		}
		h.Plugins = append(h.Plugins, newPlugin())
		if p.Options != nil {
			h.Options = append(h.Options, ply.WithOptions(p.Name, ply.RawOptions{File: name, Data: data, Path: fmt.Sprintf("$.plugins[%d].options", i)}))
		}
		if p.Priority != nil {
			h.Options = append(h.Options, ply.WithPriority(p.Name, *p.Priority))
		}
		listed = listed || p.Name == server
	}
	if !listed && server != "" {
		if newPlugin, ok := cat[server]; ok {
			h.Plugins = append(h.Plugins, newPlugin())
		}
	}
	if f.Listen != "" && server != "" {
		listen, _ := json.Marshal(map[string]string{"addr": f.Listen})
		if listed {
			errs = append(errs, fmt.Errorf("%s: listen: also set in plugins: %s options; keep one", name, server))
		} else {
			h.Options = append(h.Options, ply.WithOptions(server, ply.RawOptions{File: name, Data: listen}))
		}
	}
	for i, m := range f.Modules {
		mod := ply.Module{Name: m.Name, Prefix: m.Prefix, Options: raws(name, data, fmt.Sprintf("$.modules[%d].options", i), m.Options)}
		for j, r := range m.Routes {
			if countHandlers(r) != 1 {
				continue // reported by Validate, with its position
			}
			fn, err := builtin(r, m.Prefix)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: modules[%d].routes[%d]: %w", name, i, j, err))
				continue
			}
			mod.Handlers = append(mod.Handlers, ply.Handler{Kind: ply.KindHTTP, Name: r.Route, Tags: r.Tags, Func: fn,
				Options: raws(name, data, fmt.Sprintf("$.modules[%d].routes[%d].options", i, j), r.Options)})
		}
		h.Options = append(h.Options, ply.WithModules(mod))
	}
	return h, errors.Join(errs...)
}

func countHandlers(r Route) int {
	n := 0
	for _, set := range []bool{r.Static != nil, r.Proxy != nil, r.Files != nil} {
		if set {
			n++
		}
	}
	return n
}

func isZero(f File) bool { return f.Listen == "" && f.Plugins == nil && f.Modules == nil }

// raws turns a map of per-plugin options into RawOptions pointing into the
// file.
func raws(file string, data []byte, path string, m map[string]any) map[string]any {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]any, len(m))
	for plugin := range m {
		out[plugin] = ply.RawOptions{File: file, Data: data, Path: path + "." + quoteKey(plugin)}
	}
	return out
}

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

func quoteKey(k string) string {
	if plainKey.MatchString(k) {
		return k
	}
	return "'" + k + "'"
}

func expand(name string, data []byte) ([]byte, error) {
	var errs []error
	lines := strings.SplitAfter(string(data), "\n")
	for i, line := range lines {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		line = strings.ReplaceAll(line, "$${", "\x00{")
		line = envRef.ReplaceAllStringFunc(line, func(ref string) string {
			key := envRef.FindStringSubmatch(ref)[1]
			v, ok := os.LookupEnv(key)
			if !ok {
				errs = append(errs, fmt.Errorf("%s:%d: ${%s}: environment variable not set; export it, or write $${%s} for a literal", name, i+1, key, key))
			}
			return v
		})
		lines[i] = strings.ReplaceAll(line, "\x00{", "${")
	}
	return []byte(strings.Join(lines, "")), errors.Join(errs...)
}

func names(cat Catalog) []string {
	out := make([]string, 0, len(cat))
	for n := range cat {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
