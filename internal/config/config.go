// Package config reads a ply host's YAML file: the listen address, the
// plugins with their options and priority overrides, and the modules with
// their routes. It turns the file into plugins and host options; every
// plugin's options node goes to that plugin as [ply.RawOptions] with its
// path in the file, so every problem is reported with file:line:column.
//
// [Load] checks everything that does not need a socket: the file's size
// ([MaxSize]), nesting and aliases, its keys and values, the plugins it
// names (with the closest name for a typo, and each listed once), listen
// beside the server's own options, and every route as the server's
// [net/http.ServeMux] will register it (module prefix applied, conflicts
// between routes and with the server's endpoints). The host's plan then
// checks each plugin's options. ${NAME} in a value is replaced with the
// environment variable after parsing; see [options.Source].
package config

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/internal/options"
	"github.com/plykit/ply/market/discover"
	"github.com/plykit/ply/option"
	"github.com/plykit/ply/wasm"
)

// File is the shape of a ply.yaml file.
type File struct {
	// Listen is the HTTP address, e.g. "127.0.0.1:8080".
	Listen  string   `json:"listen,omitempty"`
	Plugins []Plugin `json:"plugins,omitempty"`
	Modules []Module `json:"modules,omitempty"`
	Tenants *Tenants `json:"tenants,omitempty"` // see tenants.go
	// Versions chooses among several versions of a plugin: see tenants.go.
	Versions *Versions `json:"versions,omitempty"`
	// Lock is the lockfile that pins the wasm plugins listed without a
	// path: they load from the artifact cache, verified. Default: ply.lock
	// beside this file.
	Lock string `json:"lock,omitempty"`
	// Cache is the artifact cache those plugins load from. Default: the
	// user's cache directory, ply/artifacts.
	Cache string `json:"cache,omitempty"`
	// Sources are where plugins are found, in order of trust: a wasm
	// plugin without a path that the lockfile does not pin is the highest
	// version in the first dir source that has it (ply run --watch loads
	// one dropped in). Registries and caches are listed by ply plugin list
	// --available; ply run never contacts a registry.
	Sources []discover.Source `json:"sources,omitempty"`
}

// Plugin is one entry of the plugins list.
type Plugin struct {
	Name     string `json:"name" jsonschema:"required,minLength=1"`
	Version  string `json:"version,omitempty"`  // one of several versions side by side: the catalog's "name@version"
	Priority *int   `json:"priority,omitempty"` // operator override of the plugin's priority
	Options  any    `json:"options,omitempty"`  // decoded by the plugin itself
	Disabled bool   `json:"disabled,omitempty"`
	Lazy     bool   `json:"lazy,omitempty"` // load at first use, not at start (ply.WithLazy)
	// Runtime is how the plugin runs: compiled in (empty or "go", from the
	// catalog) or "wasm", the WebAssembly module at Path.
	Runtime string       `json:"runtime,omitempty" jsonschema:"enum=go,enum=wasm"`
	Path    string       `json:"path,omitempty"`   // runtime wasm: the module's file, relative to this file
	Grants  *wasm.Grants `json:"grants,omitempty"` // runtime wasm: the capabilities it may use; none by default
	Limits  *wasm.Limits `json:"limits,omitempty"` // runtime wasm: memory, deadline, pool, traps, failOpen
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
				errs = append(errs, &option.Error{Field: fmt.Sprintf("modules[%d].routes[%d]", i, j),
					Problem: fmt.Sprintf("route %q: give exactly one of static, proxy and files (got %d)", r.Route, countHandlers(r))})
			}
		}
	}
	return errors.Join(errs...)
}

// A Catalog makes plugins by name: the stock set plus whatever a binary
// adds.
type Catalog map[string]func() ply.Plugin

// Host is what a file describes, ready for [ply.New]. Keep it while the
// host plans: the parsed file it holds is reused to load every plugin's
// options, instead of parsing the file again for each.
type Host struct {
	File    File
	Plugins []ply.Plugin
	Options []ply.Option

	doc      *options.Document
	builtins map[string]ply.HandlerFunc // the routes' handlers, by what they serve (builtinKey)
}

// MaxSize is the size of the largest file Load reads, in bytes: 256 KiB,
// some thousands of routes. A host's file is a few KiB; parsing a large
// one takes about a second and some hundred MB per 256 KiB.
const MaxSize = 256 << 10

// maxProblems is how many problems Load reports; past it, it says how many
// more there are.
const maxProblems = 50

// PluginPosition returns the line and column of the name of plugin's entry
// in the file's plugins list; 0, 0 when the file does not list it.
func (h *Host) PluginPosition(plugin string) (line, col int) {
	for i, p := range h.File.Plugins {
		if p.Name == plugin && plugin != "" && h.doc != nil {
			return h.doc.Position(fmt.Sprintf("plugins[%d].name", i))
		}
	}
	return 0, 0
}

// ReadFile reads the file at path for [Load], at most [MaxSize] bytes: a
// larger file is an [*option.Error] naming it, without reading it all.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path) //nolint:gosec // the operator names the config file on purpose
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // opened read-only: nothing to flush
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxSize {
		return nil, &option.Error{File: path, Problem: fmt.Sprintf(
			"the file is over the limit of %d bytes (256 KiB); keep large data out of it, or split the host", MaxSize)}
	}
	return data, nil
}

// Load reads a file's bytes: it parses the file, replaces ${NAME} in its
// values with the environment variable NAME (a missing one is an error;
// write $${NAME} for a literal), decodes it strictly, checks its plugins
// and routes, and builds the plugins from the catalog. server is the name
// of the HTTP server plugin that receives Listen as its "addr" option, and
// whose routes are checked as its [net/http.ServeMux] will register them.
//
// Every problem is an [*option.Error] with its position; they are joined, in file
// order. A file over [MaxSize], nested too deeply or whose aliases expand
// too far is refused before it is decoded. When the file has problems but
// still decodes, Load returns the host it could build with them, so a
// caller can check the plugins too ([ply.Host.Plan]) and report everything
// at once.
func Load(name string, data []byte, cat Catalog, server string) (*Host, error) {
	return LoadAgain(name, data, cat, server, nil)
}

// LoadAgain is [Load] for a host that was loaded before, as prev: a route
// that serves what it served in prev keeps prev's handler, so a reload
// sees its handler unchanged (and a files route keeps its open directory).
// prev may be nil.
func LoadAgain(name string, data []byte, cat Catalog, server string, prev *Host) (*Host, error) {
	if len(data) > MaxSize {
		return nil, &option.Error{File: name, Problem: fmt.Sprintf(
			"the file is %d bytes, over the limit of %d (256 KiB); keep large data out of it, or split the host", len(data), MaxSize)}
	}
	l := &loader{name: name, data: data, cat: cat, server: server, prev: prev}
	doc, problems := options.Parse(options.Source{File: name, Data: data, Env: os.LookupEnv})
	if doc == nil {
		for i, p := range problems {
			if strings.HasPrefix(p.Problem, "syntax error") && p.Line > 0 && strings.Contains(lineOf(data, p.Line), "${") {
				problems[i].Problem += ` (in {...} or [...], put ${NAME} in quotes: "${NAME}")`
			}
		}
		l.problems(problems)
		return nil, l.err()
	}
	l.doc = doc
	var f File
	problems = doc.Load(&f)
	l.problems(problems)
	if len(f.Plugins) == 0 && len(f.Modules) == 0 {
		if len(problems) == 0 {
			l.add("", `nothing to run: list plugins, or modules with routes, such as `+
				`"modules: [{name: site, routes: [{route: GET /hello, static: {text: hello}}]}]"`)
		}
		return nil, l.err()
	}
	l.locked = newLocked(name, f)
	h := l.build(f)
	return h, l.err()
}

// loader holds the state of one Load.
type loader struct {
	name, server string
	data         []byte
	cat          Catalog
	doc          *options.Document
	errs         []*option.Error
	prev         *Host   // an earlier load of the host, whose route handlers are reused
	locked       *locked // the lockfile, read at the first plugin that needs it
}

func (l *loader) add(path, problem string) {
	e := &option.Error{File: l.name, Field: path, Problem: problem}
	if l.doc != nil {
		e.Line, e.Column = l.doc.Position(path)
	}
	l.errs = append(l.errs, e)
}

func (l *loader) problems(ps []*option.Error) {
	for _, p := range ps {
		p.File = l.name
		l.errs = append(l.errs, p)
	}
}

// err joins the problems in file order.
func (l *loader) err() error {
	slices.SortStableFunc(l.errs, func(a, b *option.Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	errs := make([]error, 0, min(len(l.errs), maxProblems+1))
	for i, e := range l.errs {
		if i == maxProblems {
			errs = append(errs, &option.Error{File: l.name, Problem: fmt.Sprintf("%d more problems not shown; fix these first", len(l.errs)-i)})
			break
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

func (l *loader) build(f File) *Host {
	h := &Host{File: f, doc: l.doc}
	listed := -1
	first := map[string]int{} // plugin name -> index of its first entry
	for i, p := range f.Plugins {
		path := fmt.Sprintf("plugins[%d].name", i)
		id := p.Name // the catalog's key, and the options' key
		if p.Version != "" {
			id = p.Name + "@" + p.Version
		}
		if j, dup := first[id]; dup && p.Name != "" {
			line, _ := l.doc.Position(fmt.Sprintf("plugins[%d].name", j))
			l.add(path, fmt.Sprintf("plugin %q is listed twice (first at line %d); keep one entry", id, line))
			continue
		}
		first[id] = i
		if p.Disabled {
			continue
		}
		plugin, ok := l.plugin(i, p, id)
		if !ok {
			continue
		}
		h.Plugins = append(h.Plugins, plugin)
		if p.Options != nil {
			if c, ok := plugin.(ply.Configurable); !ok || c.Options() == nil {
				l.add(fmt.Sprintf("plugins[%d].options", i), fmt.Sprintf("plugin %s takes no options; remove them", p.Name))
			} else {
				h.Options = append(h.Options, ply.WithOptions(id, l.raw(fmt.Sprintf("$.plugins[%d].options", i))))
			}
		}
		if p.Lazy {
			h.Options = append(h.Options, ply.WithLazy(p.Name))
		}
		if p.Priority != nil {
			h.Options = append(h.Options, ply.WithPriority(p.Name, *p.Priority))
		}
		if p.Name == l.server {
			listed = i
		}
	}
	if listed < 0 && l.server != "" {
		if newPlugin, ok := l.cat[l.server]; ok {
			h.Plugins = append(h.Plugins, newPlugin())
		}
	}
	if f.Listen != "" && l.server != "" {
		switch {
		case listed >= 0 && f.Plugins[listed].Options != nil:
			line, _ := l.doc.Position(fmt.Sprintf("plugins[%d].options", listed))
			l.add("listen", fmt.Sprintf("the %s plugin has options at line %d: set addr there and remove listen", l.server, line))
		default:
			h.Options = append(h.Options, ply.WithOptions(l.server, l.listenOptions(f.Listen)))
		}
	}
	l.checkRoutes(f, listed)
	l.tenants(h, f.Tenants)
	l.versions(h, f.Versions)
	for i, m := range f.Modules {
		mod := ply.Module{Name: m.Name, Prefix: m.Prefix, Options: l.raws(h, fmt.Sprintf("modules[%d].options", i), m.Options)}
		for j, r := range m.Routes {
			if countHandlers(r) != 1 {
				continue // reported by Validate, with its position
			}
			fn, err := l.builtin(h, r, m.Prefix)
			if err != nil {
				l.add(fmt.Sprintf("modules[%d].routes[%d]", i, j), err.Error())
				continue
			}
			mod.Handlers = append(mod.Handlers, ply.Handler{Kind: ply.KindHTTP, Name: r.Route, Tags: r.Tags, Func: fn,
				Options: l.raws(h, fmt.Sprintf("modules[%d].routes[%d].options", i, j), r.Options)})
		}
		h.Options = append(h.Options, ply.WithModules(mod))
	}
	return h
}

// plugin makes the plugin of entry i: from the catalog, under id (its name,
// or name@version), or for runtime wasm from its module (see wasm.go).
func (l *loader) plugin(i int, p Plugin, id string) (ply.Plugin, bool) {
	if p.Runtime == wasm.Runtime {
		return l.wasmPlugin(i, p)
	}
	if p.Path != "" || p.Grants != nil || p.Limits != nil {
		l.add(fmt.Sprintf("plugins[%d].runtime", i), "path, grants and limits are for a WebAssembly plugin: add runtime: wasm, or remove them")
	}
	newPlugin, ok := l.cat[id]
	switch {
	case ok:
		return newPlugin(), true
	case p.Version != "":
		l.add(fmt.Sprintf("plugins[%d].version", i), noVersion(p.Name, p.Version, l.cat))
	case p.Name != "": // an empty name is reported by the schema
		l.add(fmt.Sprintf("plugins[%d].name", i), unknownPlugin(p.Name, l.cat))
	}
	return nil, false
}

// builtin returns the handler of route r under prefix: prev's, when it
// served the same, else a new one. h keeps it for the next load.
func (l *loader) builtin(h *Host, r Route, prefix string) (ply.HandlerFunc, error) {
	key := builtinKey(r, prefix)
	fn, ok := l.prev.builtinFor(key)
	if !ok {
		var err error
		if fn, err = builtin(r, prefix); err != nil {
			return nil, err
		}
	}
	if h.builtins == nil {
		h.builtins = make(map[string]ply.HandlerFunc)
	}
	h.builtins[key] = fn
	return fn, nil
}

func (h *Host) builtinFor(key string) (ply.HandlerFunc, bool) {
	if h == nil {
		return nil, false
	}
	fn, ok := h.builtins[key]
	return fn, ok
}

// builtinKey says what a route's handler serves: its pattern, prefix and
// handler section (not its tags or options, which the host applies).
func builtinKey(r Route, prefix string) string {
	b, _ := json.Marshal(struct { //nolint:errchkjson // plain strings, numbers, maps and slices of them: Marshal cannot fail
		Prefix string
		Route  string
		Static *Static
		Proxy  *Proxy
		Files  *Files
	}{prefix, r.Route, r.Static, r.Proxy, r.Files})
	return string(b)
}

// raw points a plugin at its options in the file. The host decodes them
// with the environment too; a variable that is not set was reported here.
func (l *loader) raw(path string) ply.RawOptions {
	return ply.RawOptions{File: l.name, Data: l.data, Path: path, Env: lenientEnv}
}

func lenientEnv(name string) (string, bool) {
	v, _ := os.LookupEnv(name)
	return v, true
}

// listenOptions gives the server its addr from listen, in a document where
// the address sits at listen's line and column, so that the server's
// problems with it point at listen.
func (l *loader) listenOptions(addr string) ply.RawOptions {
	line, col := l.doc.Position("listen")
	const key = "addr:"
	pad := max(col-1-len(key), 1)
	data := strings.Repeat("\n", max(line-1, 0)) + key + strings.Repeat(" ", pad) + strconv.Quote(addr) + "\n"
	return ply.RawOptions{File: l.name, Data: []byte(data)}
}

// unknownPlugin says that no plugin is named name, with the closest name
// the catalog knows.
func unknownPlugin(name string, cat Catalog) string {
	known := names(cat)
	best, bestDist := "", 3
	for _, k := range known {
		if d := distance(strings.ToLower(name), strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf("no plugin named %q; did you mean %q? (ply plugins lists them all)", name, best)
	}
	return fmt.Sprintf("no plugin named %q; known: %s", name, strings.Join(known, ", "))
}

// distance is the Levenshtein distance between a and b, in bytes.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
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

// lineOf returns line n (1-based) of data.
func lineOf(data []byte, n int) string {
	for i := 1; i < n; i++ {
		j := bytes.IndexByte(data, '\n')
		if j < 0 {
			return ""
		}
		data = data[j+1:]
	}
	if j := bytes.IndexByte(data, '\n'); j >= 0 {
		data = data[:j]
	}
	return string(data)
}

// raws turns a map of per-plugin options, at path in the file, into
// RawOptions pointing into the file. Options for a plugin that the host
// does not have are reported here, with their position, and left out.
func (l *loader) raws(h *Host, path string, m map[string]any) map[string]any {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]any, len(m))
	for _, plugin := range slices.Sorted(maps.Keys(m)) {
		key := path + "[" + strconv.Quote(plugin) + "]"
		if plainKey.MatchString(plugin) {
			key = path + "." + plugin
		}
		if !hasPlugin(h, plugin) {
			l.add(key, noPluginInHost(plugin, h))
			continue
		}
		out[plugin] = l.raw("$." + path + "." + quoteKey(plugin))
	}
	return out
}

// hasPlugin reports whether the host has a plugin named name.
func hasPlugin(h *Host, name string) bool {
	for _, p := range h.Plugins {
		if p.Info().Name == name {
			return true
		}
	}
	return false
}

// noPluginInHost says that options name a plugin the host does not have,
// with the closest one it has.
func noPluginInHost(name string, h *Host) string {
	best, bestDist := "", 3
	for _, p := range h.Plugins {
		if d := distance(strings.ToLower(name), strings.ToLower(p.Info().Name)); d < bestDist {
			best, bestDist = p.Info().Name, d
		}
	}
	if best != "" {
		return fmt.Sprintf("options for plugin %q, which this host does not have; did you mean %q?", name, best)
	}
	return fmt.Sprintf("options for plugin %q, which this host does not have; add it to plugins, or remove these options", name)
}

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

func quoteKey(k string) string {
	if plainKey.MatchString(k) {
		return k
	}
	return "'" + strings.ReplaceAll(strings.ReplaceAll(k, `\`, `\\`), "'", `\'`) + "'"
}

func names(cat Catalog) []string {
	out := make([]string, 0, len(cat))
	for n := range cat {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// routeAt is a pattern registered on the check's mux, and where it came
// from.
type routeAt struct {
	path string // "modules[0].routes[2].route", or "" for a server endpoint
	what string // how to name it in a message
}

// checkRoutes registers every route, as the server will (module prefix in
// front of the path), on a throwaway [http.ServeMux] beside the server's
// health endpoints, and reports the patterns it rejects and the routes
// that conflict, with the positions of both. server is the index of the
// server's entry in f.Plugins, or -1.
func (l *loader) checkRoutes(f File, server int) {
	mux := http.NewServeMux()
	seen := map[string]routeAt{}
	health, ready := "/healthz", "/readyz"
	if server >= 0 {
		if o, ok := f.Plugins[server].Options.(map[string]any); ok {
			if p, ok := o["healthPath"].(string); ok && p != "" {
				health = p
			}
			if p, ok := o["readyPath"].(string); ok && p != "" {
				ready = p
			}
		}
	}
	if l.server != "" {
		for _, p := range []string{"GET " + health, "GET " + ready} {
			if register(mux, p) == nil {
				seen[p] = routeAt{what: fmt.Sprintf("the %s plugin's endpoint %q (move it with its healthPath and readyPath options)", l.server, p)}
			}
		}
	}
	for i, m := range f.Modules {
		for j, r := range m.Routes {
			path := fmt.Sprintf("modules[%d].routes[%d].route", i, j)
			if r.Route == "" {
				continue // reported by the schema
			}
			method, rest, hasMethod := strings.Cut(r.Route, " ")
			if !hasMethod {
				rest = method
			}
			rest = strings.TrimLeft(rest, " \t")
			if !strings.HasPrefix(rest, "/") {
				l.add(path, fmt.Sprintf("route %q: write a method and a path that starts with \"/\", such as \"GET /hello\"", r.Route))
				continue
			}
			pattern := httpserver.Pattern(m.Prefix, r.Route) // as the server will register it
			err := register(mux, pattern)
			if err == nil {
				seen[pattern] = routeAt{path: path, what: fmt.Sprintf("route %q of module %s", r.Route, m.Name)}
				continue
			}
			full := ""
			if pattern != r.Route {
				full = fmt.Sprintf(" (%q with the module's prefix)", pattern)
			}
			other, reason, conflict := conflictWith(err)
			at, known := seen[other]
			switch {
			case conflict && known && at.path != "":
				line, _ := l.doc.Position(at.path)
				l.add(path, fmt.Sprintf("route %q%s conflicts with %s at line %d: %s; change one of them", r.Route, full, at.what, line, reason))
			case conflict && known:
				l.add(path, fmt.Sprintf("route %q%s conflicts with %s: %s", r.Route, full, at.what, reason))
			default:
				l.add(path, fmt.Sprintf("route %q%s is not a valid net/http pattern: %s; write [METHOD ]/path, with {name} or {name...} wildcards", r.Route, full, reason))
			}
		}
	}
}

// register adds pattern to mux, turning its panic into an error.
func register(mux *http.ServeMux, pattern string) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%v", v)
		}
	}()
	mux.Handle(pattern, http.NotFoundHandler())
	return nil
}

// muxConflict reads ServeMux's conflict message: `pattern "A" (registered
// at …) conflicts with pattern "B" (registered at …):\n<reason>`.
var muxConflict = regexp.MustCompile(`(?s)^pattern ".*" \(registered at [^)]*\) conflicts with pattern (".*") \(registered at [^)]*\):\s*(.*)$`)

// conflictWith returns the pattern that err, from register, says the new
// one conflicts with and why; or, for a pattern ServeMux cannot parse,
// why, without the source locations it names.
func conflictWith(err error) (other, reason string, conflict bool) {
	msg := err.Error()
	if m := muxConflict.FindStringSubmatch(msg); m != nil {
		if p, uerr := strconv.Unquote(m[1]); uerr == nil {
			return p, strings.TrimSpace(strings.ReplaceAll(m[2], "\n", " ")), true
		}
	}
	msg = strings.TrimPrefix(msg, "parsing ")
	if _, after, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(msg, "\"") {
		msg = after // `"FOO BAR": bad method` -> the reason
	}
	return "", msg, false
}
