package client

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/plykit/ply/market"
	"github.com/plykit/ply/market/lock"
	"github.com/plykit/ply/market/resolve"
	"github.com/plykit/ply/wasm/abi"
)

// Change is what an install, update or remove did to one plugin of the
// lockfile.
type Change struct {
	Name string
	From string // the version locked before; empty when added
	To   string // the version locked now; empty when removed
}

func (c Change) String() string {
	switch {
	case c.From == "":
		return "+ " + c.Name + "@" + c.To
	case c.To == "":
		return "- " + c.Name + "@" + c.From
	}
	return "~ " + c.Name + " " + c.From + " -> " + c.To
}

// index is the registry as a [resolve.Index], each plugin fetched once.
type index struct {
	c       *Client
	mu      sync.Mutex
	plugins map[string]*market.Plugin
}

func (ix *index) plugin(ctx context.Context, name string) (*market.Plugin, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if p, ok := ix.plugins[name]; ok {
		return p, nil
	}
	p, err := ix.c.Plugin(ctx, name)
	if notFound(err) {
		p, err = &market.Plugin{}, nil
	}
	if err != nil {
		return nil, err
	}
	ix.plugins[name] = p
	return p, nil
}

// Versions implements [resolve.Index].
func (ix *index) Versions(ctx context.Context, name string) ([]resolve.Candidate, error) {
	p, err := ix.plugin(ctx, name)
	if err != nil {
		return nil, err
	}
	out := make([]resolve.Candidate, 0, len(p.Versions))
	for _, v := range p.Versions {
		c := resolve.Candidate{Version: v.Version, ABI: v.ABI, Yanked: v.Yanked}
		for _, d := range v.Requires {
			c.Requires = append(c.Requires, resolve.Dependency(d))
		}
		out = append(out, c)
	}
	return out, nil
}

// Install adds the plugins reqs name to l, with what they require, and
// fetches their artifacts into cache. The plugins l already locks stay,
// at their versions unless a new requirement excludes them. Each artifact
// is checked (hash, and the signature by the key the registry lists for
// its publisher) before l changes; a plugin whose publisher key differs
// from the one l has is refused. l is changed only when everything
// succeeded; the caller writes it.
//
// A request no set of versions satisfies is a [*resolve.ConflictError].
func (c *Client) Install(ctx context.Context, l *lock.Lock, cache lock.Cache, reqs []resolve.Requirement) ([]Change, error) {
	prefer := map[string]string{}
	for _, e := range l.Plugins {
		prefer[e.Name] = e.Version
	}
	return c.apply(ctx, l, cache, reqs, prefer)
}

// Update moves the named plugins (every locked one when names is empty)
// to the newest versions the constraints allow, and what they require
// with them; the others keep their versions when they can.
func (c *Client) Update(ctx context.Context, l *lock.Lock, cache lock.Cache, names []string) ([]Change, error) {
	prefer := map[string]string{}
	for _, n := range names {
		if _, ok := l.Find(n); !ok {
			return nil, fmt.Errorf("plugin %s is not in the lockfile: install it", n)
		}
	}
	if len(names) > 0 {
		for _, e := range l.Plugins {
			if !slices.Contains(names, e.Name) {
				prefer[e.Name] = e.Version
			}
		}
	}
	return c.apply(ctx, l, cache, nil, prefer)
}

func (c *Client) apply(ctx context.Context, l *lock.Lock, cache lock.Cache, reqs []resolve.Requirement, prefer map[string]string) ([]Change, error) {
	for _, r := range reqs {
		if !lock.ValidName(r.Name) {
			return nil, fmt.Errorf("%q is not a plugin name: want 1 to 64 of a-z, 0-9, '.', '_' and '-'", r.Name)
		}
	}
	for _, e := range l.Plugins { // everything locked stays installed
		reqs = append(reqs, resolve.Requirement{Name: e.Name})
	}
	ix := &index{c: c, plugins: map[string]*market.Plugin{}}
	picks, err := resolve.Solve(ctx, ix, reqs, resolve.Options{ABI: abi.Version, Prefer: prefer})
	if err != nil {
		return nil, err
	}
	entries := make([]lock.Entry, len(picks))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, p := range picks {
		mp, err := ix.plugin(ctx, p.Name)
		if err != nil {
			return nil, err
		}
		j := slices.IndexFunc(mp.Versions, func(v market.Version) bool { return v.Version == p.Version })
		v := mp.Versions[j]
		e := lock.Entry{Name: p.Name, Version: v.Version, SHA256: v.SHA256, Signature: v.Signature, Key: mp.Key, Source: c.URL}
		for _, d := range v.Requires {
			e.Requires = append(e.Requires, lock.Dependency(d))
		}
		if old, ok := l.Find(p.Name); ok && old.Key != e.Key {
			return nil, fmt.Errorf("plugin %s: the registry lists publisher key %s, the lockfile trusts %s: a changed key is refused; "+
				"if the publisher did change keys, ply plugin remove %s and install it again", p.Name, e.Key, old.Key, p.Name)
		}
		entries[i] = e
		g.Go(func() error { return c.fetch(gctx, cache, e) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var changes []Change
	for _, e := range entries {
		old, ok := l.Find(e.Name)
		if !ok || old.Version != e.Version {
			changes = append(changes, Change{Name: e.Name, From: old.Version, To: e.Version})
		}
		l.Set(e)
	}
	return changes, nil
}

// fetch puts e's artifact in the cache unless it is there and verifies,
// checking the downloaded bytes as ply run will.
func (c *Client) fetch(ctx context.Context, cache lock.Cache, e lock.Entry) error {
	if _, err := cache.Read(e); err == nil {
		return nil
	}
	b, err := c.Artifact(ctx, e.SHA256)
	if err != nil {
		return fmt.Errorf("plugin %s: %w", e.ID(), err)
	}
	if err := lock.Verify(e, b); err != nil {
		return err
	}
	_, err = cache.Put(b)
	return err
}

// Remove removes a plugin from l, unless another locked plugin requires
// it. The cache keeps its artifact (other lockfiles may pin it).
func Remove(l *lock.Lock, name string) (Change, error) {
	e, ok := l.Find(name)
	if !ok {
		return Change{}, fmt.Errorf("plugin %s is not in the lockfile", name)
	}
	if deps := l.Dependents(name); len(deps) > 0 {
		return Change{}, fmt.Errorf("plugin %s is required by %v: remove them first", name, deps)
	}
	l.Remove(name)
	return Change{Name: name, From: e.Version}, nil
}

// Verify checks every locked artifact in the cache (hash and signature)
// and the set's consistency, offline; it returns every problem.
func Verify(l *lock.Lock, cache lock.Cache) []error {
	var errs []error
	for _, e := range l.Plugins {
		if _, err := cache.Read(e); err != nil {
			errs = append(errs, err)
		}
	}
	return append(errs, l.Check()...)
}
