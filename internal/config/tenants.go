package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/plykit/ply"
	"github.com/plykit/ply/tenant"
)

// Tenants is the tenants section of a ply.yaml file: where a call's tenant
// comes from, and each tenant's plugin set.
type Tenants struct {
	// From says where the tenant is read: exactly one of its fields.
	From TenantFrom `json:"from"`
	// Default is the tenant of a call that names none; empty refuses such
	// calls as unknown.
	Default string `json:"default,omitempty"`
	// Unknown is the HTTP status for a call of an unknown tenant: 404
	// (default) or 403.
	Unknown int `json:"unknown,omitempty" jsonschema:"enum=0,enum=403,enum=404"`
	// List holds the tenants; one with no plugins runs the host's chains.
	List []Tenant `json:"list,omitempty"`
}

// TenantFrom names where a call's tenant is read.
type TenantFrom struct {
	Header string `json:"header,omitempty"` // a request header: "X-Tenant"
	Host   string `json:"host,omitempty"`   // the subdomain under this domain: "api.example.com"
	Path   string `json:"path,omitempty"`   // the path segment after this prefix: "/t/"
	Claim  string `json:"claim,omitempty"`  // a bearer token's claim, read for routing only: "tid"
}

// Tenant is one tenant and how its plugin set differs from the host's.
type Tenant struct {
	Name    string                  `json:"name" jsonschema:"required,minLength=1"`
	Plugins map[string]TenantPlugin `json:"plugins,omitempty"` // by plugin name
}

// TenantPlugin is a tenant's override of one plugin (see
// [ply.TenantPlugin]).
type TenantPlugin struct {
	Disabled bool   `json:"disabled,omitempty"`
	Options  any    `json:"options,omitempty"` // merged over the host's options for the plugin
	Priority *int   `json:"priority,omitempty"`
	Version  string `json:"version,omitempty"` // pin, when several versions are registered
}

// tenants turns the tenants section into host options: the selector, the
// tenants with their options pointing into the file, and a renew that
// makes a tenant's own instances from the catalog.
func (l *loader) tenants(h *Host, t *Tenants) {
	if t == nil {
		return
	}
	sel := l.selector("tenants.from", t.From)
	if sel == nil {
		return
	}
	if t.Default != "" {
		sel = tenant.Default(sel, t.Default)
	}
	seen := make(map[string]bool)
	var list []ply.Tenant
	for i, tn := range t.List {
		path := fmt.Sprintf("tenants.list[%d]", i)
		if seen[tn.Name] {
			l.add(path+".name", fmt.Sprintf("tenant %q is listed twice; keep one entry", tn.Name))
			continue
		}
		seen[tn.Name] = true
		pt := ply.Tenant{Name: tn.Name}
		for _, name := range slices.Sorted(maps.Keys(tn.Plugins)) {
			tp := tn.Plugins[name]
			at := path + ".plugins." + quoteKey(name)
			if !hasPlugin(h, name) {
				l.add(at, fmt.Sprintf("tenant %q: plugin %q is not in this host's plugins; add it there, or remove it here", tn.Name, name))
				continue
			}
			if pt.Plugins == nil {
				pt.Plugins = make(map[string]ply.TenantPlugin)
			}
			out := ply.TenantPlugin{Disabled: tp.Disabled, Priority: tp.Priority, Version: tp.Version}
			if tp.Options != nil {
				raw := l.raw("$." + at + ".options")
				out.Options = &raw
			}
			pt.Plugins[name] = out
		}
		list = append(list, pt)
	}
	if t.Default != "" && !seen[t.Default] {
		l.add("tenants.default", fmt.Sprintf("tenant %q is not in the list; add it there (with no plugins it runs the host's chains)", t.Default))
	}
	h.Options = append(h.Options, ply.WithTenants(sel, list...), ply.WithRenew(func(old ply.Plugin) ply.Plugin {
		if mk, ok := l.cat[old.Info().Name]; ok {
			return mk()
		}
		return nil
	}))
	if t.Unknown != 0 {
		h.Options = append(h.Options, ply.WithUnknownTenant(t.Unknown))
	}
}

// Versions is the versions section of a ply.yaml file: how calls choose
// among several versions of a plugin (each listed in plugins with its
// version).
type Versions struct {
	// Header names the request header a call may ask for versions in
	// ("Ply-Version: auth@2.0.0"), for the plugins marked choosable. Off
	// when empty.
	Header string `json:"header,omitempty"`
	// Plugins are the choices, by plugin name.
	Plugins map[string]VersionChoice `json:"plugins,omitempty"`
}

// VersionChoice is how calls choose a version of one plugin.
type VersionChoice struct {
	// Weights send calls to versions by weight ("1.4.0": 90, "2.0.0": 10),
	// sticky by Sticky.
	Weights map[string]int `json:"weights,omitempty"`
	// Sticky says what keeps a caller on one version: a header, host,
	// path or claim, as tenants.from; the call's tenant when empty.
	Sticky *TenantFrom `json:"sticky,omitempty"`
	// Choosable lets the versions header choose this plugin's version.
	Choosable bool `json:"choosable,omitempty"`
	// Releases set versions' release states, by version.
	Releases map[string]Release `json:"releases,omitempty"`
}

// Release is one version's release state.
type Release struct {
	State string    `json:"state" jsonschema:"enum=active,enum=beta,enum=deprecated"`
	Since time.Time `json:"since,omitzero"` // when it was deprecated: the RFC 9745 Deprecation header's date
}

// versions turns the versions section into host options.
func (l *loader) versions(h *Host, v *Versions) {
	if v == nil {
		return
	}
	var choosable []string
	for _, name := range slices.Sorted(maps.Keys(v.Plugins)) {
		c := v.Plugins[name]
		at := "versions.plugins." + quoteKey(name)
		if !hasPlugin(h, name) {
			l.add(at, fmt.Sprintf("plugin %q is not in this host's plugins; add it there, or remove it here", name))
			continue
		}
		if c.Choosable {
			choosable = append(choosable, name)
		}
		if len(c.Weights) > 0 {
			var sticky ply.Selector
			if c.Sticky != nil {
				if sticky = l.selector(at+".sticky", *c.Sticky); sticky == nil {
					continue
				}
			}
			h.Options = append(h.Options, ply.WithWeights(name, sticky, c.Weights))
		}
		for _, ver := range slices.Sorted(maps.Keys(c.Releases)) {
			r := c.Releases[ver]
			state := map[string]ply.ReleaseState{"active": ply.Active, "beta": ply.Beta, "deprecated": ply.Deprecated}[r.State]
			h.Options = append(h.Options, ply.WithRelease(name+"@"+ver, ply.Release{State: state, Since: r.Since}))
		}
	}
	switch {
	case v.Header != "" && len(choosable) > 0:
		h.Options = append(h.Options, ply.WithVersionHeader(tenant.Header(v.Header), choosable...))
	case v.Header != "":
		l.add("versions.header", "no plugin is choosable; mark one with choosable: true, or remove the header")
	case len(choosable) > 0:
		l.add("versions.header", fmt.Sprintf("plugins %q are choosable, but no header is named; set versions.header", choosable))
	}
}

// selector returns the selector from names, or nil (reported at path) when
// it does not name exactly one source.
func (l *loader) selector(path string, from TenantFrom) ply.Selector {
	var sel ply.Selector
	n := 0
	for _, s := range []struct {
		v   string
		sel func(string) ply.Selector
	}{{from.Header, tenant.Header}, {from.Host, tenant.Host}, {from.Path, tenant.PathPrefix}, {from.Claim, tenant.Claim}} {
		if s.v != "" {
			n++
			sel = s.sel(s.v)
		}
	}
	if n != 1 {
		l.add(path, fmt.Sprintf("give exactly one of header, host, path and claim (got %d)", n))
		return nil
	}
	return sel
}

// noVersion says that the catalog has no such version of a plugin, with
// the versions it has.
func noVersion(name, version string, cat Catalog) string {
	var have []string
	for k := range cat {
		if n, v, ok := strings.Cut(k, "@"); ok && n == name {
			have = append(have, v)
		}
	}
	slices.Sort(have)
	if len(have) == 0 {
		return fmt.Sprintf("the catalog has no versions of %q side by side; remove version, or add %q to the catalog", name, name+"@"+version)
	}
	return fmt.Sprintf("the catalog has no %s@%s; it has versions %s", name, version, strings.Join(have, ", "))
}
