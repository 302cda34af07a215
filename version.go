package ply

import (
	"fmt"
	"strings"
	"time"
)

// ReleaseState is where a plugin version is in its life: [Active], [Beta]
// or [Deprecated].
type ReleaseState int

const (
	// Active versions serve by default: with several versions of a plugin
	// registered, the highest active one serves the calls that no pin,
	// weight or header sends elsewhere.
	Active ReleaseState = iota
	// Beta versions serve only the calls sent to them: a tenant's pin,
	// weights, or the version header.
	Beta
	// Deprecated versions still serve; each use is counted
	// ([Host.DeprecatedCalls]), logged once per tenant, and the call can
	// say so ([Call.Deprecation]).
	Deprecated
)

func (s ReleaseState) String() string {
	switch s {
	case Beta:
		return "beta"
	case Deprecated:
		return "deprecated"
	}
	return "active"
}

// Release is the release state of one plugin version.
type Release struct {
	State ReleaseState
	// Since is when a deprecated version was deprecated: the date of the
	// RFC 9745 Deprecation header ([Call.Deprecation]). Zero: unknown.
	Since time.Time
}

// WithRelease sets the release state of the plugin version id
// ("auth@1.4.0"). Versions default to [Active]. Naming no registered
// version is a build error.
func WithRelease(id string, r Release) Option {
	return optionFunc(func(c *config) {
		if _, _, ok := strings.Cut(id, "@"); !ok {
			c.errs = append(c.errs, fmt.Errorf("ply: WithRelease(%q): want name@version", id))
			return
		}
		if c.tn.releases == nil {
			c.tn.releases = make(map[string]Release)
		}
		c.tn.releases[id] = r
		c.tn.on = true
	})
}

// WithWeights sends each call to a version of the plugin named name (of
// which several are registered) with the given weights, by version
// ("1.4.0": 90, "2.0.0": 10): a canary. The choice is sticky: it is a hash
// of the plugin's name and of the key sticky reads from the call (a user
// id, say), or of the call's tenant when sticky is nil or reads nothing,
// so one key stays on one version while the weights stay. A tenant's pin
// ([TenantPlugin.Version]) wins over weights.
func WithWeights(name string, sticky Selector, weights map[string]int) Option {
	return optionFunc(func(c *config) {
		for v, w := range weights {
			if w < 0 {
				c.errs = append(c.errs, fmt.Errorf("ply: WithWeights(%q): version %s has weight %d; weights must be >= 0", name, v, w))
			}
		}
		if c.tn.weights == nil {
			c.tn.weights = make(map[string]weighting)
		}
		c.tn.weights[name] = weighting{sticky: sticky, weights: weights}
		c.tn.on = true
	})
}

// WithVersionHeader lets a call choose the version of the plugins named
// names (and no others): read returns what the call asks for, as
// "auth@2.0.0" or a comma-separated list ("auth@2.0.0, cache@1.1.0"). A
// version that is not registered, or a plugin not in names, is ignored;
// a tenant's pin wins. Off by default: a caller must not pick a version
// the operator did not allow.
func WithVersionHeader(read Selector, names ...string) Option {
	return optionFunc(func(c *config) {
		if read == nil || len(names) == 0 {
			c.errs = append(c.errs, fmt.Errorf("ply: WithVersionHeader: give a selector and the plugins it may choose"))
			return
		}
		c.tn.header = read
		c.tn.headerOK = make(map[string]bool, len(names))
		for _, n := range names {
			c.tn.headerOK[n] = true
		}
		c.tn.on = true
	})
}

// Deprecation reports whether a deprecated plugin version serves the call,
// and since when (the earliest, when several do): what an RFC 9745
// Deprecation header says ("@" and the Unix time).
func (c *Call) Deprecation() (since time.Time, ok bool) {
	if c.view == nil || c.view.deprecated == nil {
		return time.Time{}, false
	}
	return c.view.since.Since, true
}

// Versions returns, for each plugin with several versions registered, the
// version serving the call and why; nil on a host with one version of
// each plugin.
func (c *Call) Versions() []VersionChoice {
	if c.view == nil {
		return nil
	}
	return c.view.choices
}

// DeprecatedCalls returns how many calls each deprecated plugin version
// ([WithRelease]) served, by ID, since the host started or last reloaded.
func (h *Host) DeprecatedCalls() map[string]int64 {
	g := h.gen.Load()
	if g == nil || g.tn == nil {
		return nil
	}
	out := make(map[string]int64, len(g.tn.counts))
	for id, n := range g.tn.counts {
		out[id] = n.Load()
	}
	return out
}

// has reports whether the plan registers name, or the version of a
// "name@version".
func (r *resolved) has(ref string) bool {
	name, version, versioned := strings.Cut(ref, "@")
	for _, e := range r.byName[name] {
		if !versioned || e.info.Version == version {
			return true
		}
	}
	return false
}

// checkVersions reports the releases, weights and header names that name
// no registered plugin version.
func (r *resolved) checkVersions(c tenantConfig) []error {
	var errs []error
	for _, id := range sortedKeys(c.releases) {
		if !r.has(id) {
			errs = append(errs, fmt.Errorf("ply: WithRelease(%q): no such plugin version is registered: %w", id, ErrNotRegistered))
		}
	}
	for _, name := range sortedKeys(c.weights) {
		if len(r.byName[name]) < 2 {
			errs = append(errs, fmt.Errorf("ply: WithWeights(%q): weights need two or more registered versions of the plugin, found %v: %w", name, versionsOf(r.byName[name]), ErrNotRegistered))
		}
	}
	for _, name := range sortedKeys(c.headerOK) {
		if len(r.byName[name]) == 0 {
			errs = append(errs, fmt.Errorf("ply: WithVersionHeader: plugin %q: %w", name, ErrNotRegistered))
		}
	}
	for _, t := range c.tenants {
		for _, name := range sortedKeys(t.Plugins) {
			if len(r.byName[name]) == 0 {
				errs = append(errs, fmt.Errorf("ply: tenant %q: plugin %q: no plugin of that name is registered; remove it from the tenant or register it: %w", t.Name, name, ErrNotRegistered))
			}
		}
	}
	return errs
}

// tenantsOn reports whether a host dispatches per tenant or per version:
// it has tenants, or settings for versions, or several versions of a
// plugin — of which, without settings, the highest active one serves.
func tenantsOn(cfg *config, r *resolved) bool {
	if cfg.tn.on {
		return true
	}
	for _, es := range r.byName {
		if len(es) > 1 {
			return true
		}
	}
	return false
}

func tenantSuffix(t string) string {
	if t == "" {
		return ""
	}
	return fmt.Sprintf(" for tenant %q", t)
}

// writeVersions renders which version of each plugin serves, and why:
//
//	versions:
//	  auth@2.0.0  weight (1.4.0: 90, 2.0.0: 10) beta
func writeVersions(b *strings.Builder, vs []VersionChoice) {
	if len(vs) == 0 {
		return
	}
	b.WriteString("versions:\n")
	for _, v := range vs {
		why := v.Why
		if len(v.Weights) > 0 {
			var ws []string
			for _, ver := range sortedKeys(v.Weights) {
				ws = append(ws, fmt.Sprintf("%s: %d", ver, v.Weights[ver]))
			}
			why += " (" + strings.Join(ws, ", ") + ")"
		}
		if v.Release != Active {
			why += " " + v.Release.String()
		}
		fmt.Fprintf(b, "  %s@%s  %s\n", v.Plugin, v.Version, why)
	}
}
