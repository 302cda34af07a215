// Package discover finds plugins in several sources and merges what they
// offer: directories of wasm modules on disk, registries, and the local
// artifact cache. A host's config names its sources in order of trust;
// [Merge] keeps one row per name and version and says which sources have
// it, most trusted first.
package discover

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/plykit/ply/market/client"
	"github.com/plykit/ply/market/lock"
	"github.com/plykit/ply/wasm"
)

// Source is one place plugins are found. Exactly one field is set.
type Source struct {
	Dir      string `json:"dir,omitempty"`      // a directory of wasm modules (*.wasm), each found by its manifest
	Registry string `json:"registry,omitempty"` // a registry's URL
	Cache    string `json:"cache,omitempty"`    // an artifact cache's directory
}

// String names the source: "dir plugins", "registry http://…", "cache …".
func (s Source) String() string {
	switch {
	case s.Dir != "":
		return "dir " + s.Dir
	case s.Registry != "":
		return "registry " + s.Registry
	}
	return "cache " + s.Cache
}

// Module is a plugin version a source offers.
type Module struct {
	Name, Version string
	ABI           uint32
	Path          string // on disk (dir and cache sources); empty for a registry
	Yanked        bool
}

// ScanDir returns the wasm modules in dir (not its subdirectories), each
// named by its manifest, which is read with [wasm.Inspect] (compilations
// cached in cacheDir, as wasm.Config.CacheDir). A file that is not a ply
// module is an error naming it; the others are still returned.
func ScanDir(ctx context.Context, dir, cacheDir string) ([]Module, []error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, []error{err}
	}
	var out []Module
	var errs []error
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".wasm") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		m, err := inspect(ctx, path, cacheDir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, m)
	}
	return out, errs
}

func inspect(ctx context.Context, path, cacheDir string) (Module, error) {
	data, err := os.ReadFile(path) //nolint:gosec // a module in a source the operator named
	if err != nil {
		return Module{}, err
	}
	m, _, err := wasm.Inspect(ctx, path, data, cacheDir)
	if err != nil {
		return Module{}, err
	}
	return Module{Name: m.Name, Version: m.Version, ABI: m.ABI, Path: path}, nil
}

// Find returns the highest version of plugin name among the modules in
// dir, or false.
func Find(ctx context.Context, dir, name, cacheDir string) (Module, bool, []error) {
	ms, errs := ScanDir(ctx, dir, cacheDir)
	var best Module
	for _, m := range ms {
		if m.Name == name && (best.Name == "" || compare(m.Version, best.Version) > 0) {
			best = m
		}
	}
	return best, best.Name != "", errs
}

// ScanCache returns the modules in an artifact cache.
func ScanCache(ctx context.Context, cache lock.Cache, cacheDir string) ([]Module, []error) {
	ms, errs := ScanDir(ctx, filepath.Join(cache.Dir, "sha256"), cacheDir)
	if len(errs) == 1 && errors.Is(errs[0], os.ErrNotExist) {
		return nil, nil // an empty cache
	}
	return ms, errs
}

// ScanRegistry returns every version of every plugin a registry lists
// (up to its search page's limit).
func ScanRegistry(ctx context.Context, c *client.Client) ([]Module, error) {
	sums, err := c.Search(ctx, "")
	if err != nil {
		return nil, err
	}
	var out []Module
	for _, s := range sums {
		p, err := c.Plugin(ctx, s.Name)
		if err != nil {
			return nil, err
		}
		for _, v := range p.Versions {
			out = append(out, Module{Name: p.Name, Version: v.Version, ABI: v.ABI, Yanked: v.Yanked})
		}
	}
	return out, nil
}

// Available is a plugin version with the sources that offer it, most
// trusted first.
type Available struct {
	Module // as the most trusted source has it
	From   []Source
}

// Scan lists what each source offers, in order; errors of a source are
// returned beside what the others offer.
// Registries are asked with hc (nil: the client's default).
func Scan(ctx context.Context, sources []Source, cacheDir string, hc *http.Client) ([][]Module, []error) {
	out := make([][]Module, len(sources))
	var errs []error
	for i, s := range sources {
		var ms []Module
		var es []error
		switch {
		case s.Dir != "":
			ms, es = ScanDir(ctx, s.Dir, cacheDir)
		case s.Registry != "":
			c := &client.Client{URL: s.Registry, HTTP: hc}
			var err error
			if ms, err = ScanRegistry(ctx, c); err != nil {
				es = []error{err}
			}
		default:
			ms, es = ScanCache(ctx, lock.Cache{Dir: s.Cache}, cacheDir)
		}
		out[i] = ms
		for _, e := range es {
			errs = append(errs, fmt.Errorf("%s: %w", s, e))
		}
	}
	return out, errs
}

// Merge merges what the sources offer (found[i] from sources[i], in order
// of trust): one row per name and version, sorted by name and then by
// version, newest first.
func Merge(sources []Source, found [][]Module) []Available {
	byID := map[string]int{}
	var out []Available
	for i, ms := range found {
		for _, m := range ms {
			id := m.Name + "@" + m.Version
			if j, ok := byID[id]; ok {
				if !slices.Contains(out[j].From, sources[i]) {
					out[j].From = append(out[j].From, sources[i])
				}
				continue
			}
			byID[id] = len(out)
			out = append(out, Available{Module: m, From: []Source{sources[i]}})
		}
	}
	slices.SortFunc(out, func(a, b Available) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), compare(b.Version, a.Version))
	})
	return out
}

func compare(a, b string) int {
	va, ea := semver.StrictNewVersion(a)
	vb, eb := semver.StrictNewVersion(b)
	if ea != nil || eb != nil {
		return strings.Compare(a, b)
	}
	return va.Compare(vb)
}
