package ply

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/Masterminds/semver/v3"
)

// Key names a value of type T that plugins share: an API a plugin provides
// ([Provide], [Lookup]). Its name is the providing plugin's name, a dot and
// the API's name ("cache.store", "auth.jwt.verifier"): the part before the
// last dot says which plugin to ask. Keys are comparable values, cheap to
// copy; declare them once as package variables.
type Key[T any] struct {
	name, plugin string
	id           uint32
	constraint   string
	cons         *semver.Constraints
}

var keyIDs atomic.Uint32

// NewKey returns a key for values of type T. It panics if name has no dot
// or an empty part, as that is a programming error.
func NewKey[T any](name string) Key[T] {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 || i == len(name)-1 {
		panic(fmt.Sprintf("ply: key %q: want \"plugin.api\"", name))
	}
	return Key[T]{name: name, plugin: name[:i], id: keyIDs.Add(1)}
}

// Name returns the key's full name.
func (k Key[T]) Name() string { return k.name }

// Plugin returns the name of the plugin that provides the key.
func (k Key[T]) Plugin() string { return k.plugin }

// Within returns a copy of k that [Lookup] resolves only against provider
// versions satisfying constraint ("^1.2"). It panics on a malformed
// constraint, as that is a programming error.
func (k Key[T]) Within(constraint string) Key[T] {
	c, err := semver.NewConstraint(constraint)
	if err != nil {
		panic(fmt.Sprintf("ply: key %s: constraint %q: %v", k.name, constraint, err))
	}
	k.constraint, k.cons = constraint, c
	return k
}

func (k Key[T]) String() string {
	if k.constraint != "" {
		return k.name + " (" + k.constraint + ")"
	}
	return k.name
}

// A Registry resolves typed APIs: a plugin's [*Setup] during Provision, a
// [*Host] once it has started, or a [*Call] during a call (a map lookup per
// call: prefer looking APIs up once, in Provision or Wrap).
type Registry interface {
	registry() (*Host, *resolved, *entry)
}

// Setup is what a plugin receives in Provision: its logger and the host's
// API registry. It is valid only during the Provision call.
type Setup struct {
	h      *Host
	r      *resolved // the plan being brought up
	e      *entry
	logger *slog.Logger
}

func (s *Setup) registry() (*Host, *resolved, *entry) { return s.h, s.r, s.e }

// Logger returns the host's logger with the plugin's name and version as
// attributes.
func (s *Setup) Logger() *slog.Logger { return s.logger }

// Host returns the host the plugin is provisioned in, for plugins that
// report on it (readiness, admin pages).
func (s *Setup) Host() *Host { return s.h }

// Preview reports whether the plugin is provisioned for [Host.Preview]: to
// explain the host, not to serve. A plugin that holds something exclusive
// or durable (a data directory, a port) provisions a throwaway stand-in
// instead, so that a preview (ply explain, ply graph) runs beside the host
// it describes and leaves no trace.
func (s *Setup) Preview() bool { return s.h.previewing.Load() }

// Info returns the plugin's Info as the host resolved it (with any operator
// priority override applied).
func (s *Setup) Info() Info { return s.e.info }

// Provide makes impl available to other plugins under key. Only the plugin
// named by the key may provide it, once: a second Provide of the same key
// by the same plugin returns an error matching [ErrDuplicate].
func Provide[T any](s *Setup, key Key[T], impl T) error {
	if key.plugin != s.e.info.Name {
		return fmt.Errorf("ply: plugin %s cannot provide %s: a key is provided by the plugin it is named after (%s)",
			s.e.info.Name, key.name, key.plugin)
	}
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	if _, ok := s.e.apis[key.name]; ok {
		return fmt.Errorf("provide %s: %w", key.name, ErrDuplicate)
	}
	if s.e.apis == nil {
		s.e.apis = make(map[string]any)
	}
	s.e.apis[key.name] = impl
	return nil
}

// Lookup returns the API provided under key. Resolved from a plugin's
// [*Setup], the key's plugin is expected among the caller's dependencies,
// and the caller's constraint on it applies unless the key carries its own
// ([Key.Within]). When several versions of the provider are registered, the
// highest satisfying version that provides the key wins. Errors match:
//   - [ErrNotRegistered]: no plugin of the key's plugin name is registered;
//   - [ErrVersionMismatch]: none of its versions satisfies the constraint;
//   - [ErrNoAPI]: it provides nothing under that key (yet), or a value of
//     another type.
func Lookup[T any](r Registry, key Key[T]) (T, error) {
	var zero T
	h, plan, caller := r.registry()
	v, err := h.lookup(plan, caller, key.name, key.plugin, key.constraint, key.cons)
	if err != nil {
		return zero, err
	}
	t, ok := v.(T)
	if !ok {
		return zero, fmt.Errorf("lookup %s: provided as %T, not %T: %w", key.name, v, zero, ErrNoAPI)
	}
	return t, nil
}

func (h *Host) lookup(r *resolved, caller *entry, name, plugin, constraint string, cons *semver.Constraints) (any, error) {
	if r == nil {
		return nil, fmt.Errorf("lookup %s: host not built: %w", name, ErrNotRegistered)
	}
	candidates := r.byName[plugin]
	if len(candidates) == 0 {
		return nil, fmt.Errorf("lookup %s: plugin %s: %w", name, plugin, ErrNotRegistered)
	}
	if cons == nil && caller != nil {
		for _, d := range caller.info.Requires {
			if d.Name == plugin && d.Constraint != "" {
				constraint = d.Constraint
				cons, _ = semver.NewConstraint(d.Constraint) // validated at build
			}
		}
	}
	var satisfying []*entry
	for _, e := range candidates { // highest version first
		if cons == nil || cons.Check(e.version) {
			satisfying = append(satisfying, e)
		}
	}
	if len(satisfying) == 0 {
		return nil, fmt.Errorf("lookup %s: %s %s (registered: %s): %w",
			name, plugin, constraint, strings.Join(versionsOf(candidates), ", "), ErrVersionMismatch)
	}
	for _, e := range satisfying {
		if e.lazy != nil { // the first lookup of a lazy plugin's API loads it
			if err := e.lazy.load(context.Background()); err != nil {
				return nil, fmt.Errorf("lookup %s: %w", name, err)
			}
		}
		h.mu.Lock()
		v, ok := e.apis[name]
		h.mu.Unlock()
		if ok {
			return v, nil
		}
	}
	hint := ""
	if caller != nil && !caller.requires(plugin) {
		hint = fmt.Sprintf(" (declare %s in %s's Requires so it is provisioned first)", plugin, caller.info.Name)
	}
	return nil, fmt.Errorf("lookup %s: %s@%s provides no %s%s: %w",
		name, plugin, satisfying[0].info.Version, name, hint, ErrNoAPI)
}
