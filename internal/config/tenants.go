package config

import (
	"fmt"
	"maps"
	"slices"

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
	var sel ply.Selector
	n := 0
	for _, s := range []struct {
		v   string
		sel func(string) ply.Selector
	}{{t.From.Header, tenant.Header}, {t.From.Host, tenant.Host}, {t.From.Path, tenant.PathPrefix}, {t.From.Claim, tenant.Claim}} {
		if s.v != "" {
			n++
			sel = s.sel(s.v)
		}
	}
	if n != 1 {
		l.add("tenants.from", fmt.Sprintf("give exactly one of header, host, path and claim (got %d)", n))
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
