package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/plykit/ply/market/lock"
)

// locked is a host's lockfile and artifact cache: where the wasm plugins
// listed without a path come from. The lockfile is read once per load, at
// the first plugin that needs it; nothing here contacts a registry.
type locked struct {
	path  string
	cache lock.Cache
	lock  *lock.Lock
	err   error
	read  bool
}

func newLocked(name string, f File) *locked {
	lk := &locked{path: f.Lock, cache: lock.DefaultCache()}
	if lk.path == "" {
		lk.path = lock.Name
	}
	if !filepath.IsAbs(lk.path) {
		lk.path = filepath.Join(filepath.Dir(name), lk.path)
	}
	if f.Cache != "" {
		lk.cache.Dir = f.Cache
		if !filepath.IsAbs(f.Cache) {
			lk.cache.Dir = filepath.Join(filepath.Dir(name), f.Cache)
		}
	}
	return lk
}

// lockedPath returns the verified cached module of entry i, a wasm plugin
// without a path: the lockfile must pin it, and the cached artifact must
// have the locked hash and the publisher's signature. A problem is
// reported at the entry's name, naming the plugin and the fix.
func (l *loader) lockedPath(i int, p Plugin) (string, bool) {
	at := fmt.Sprintf("plugins[%d].name", i)
	lk := l.locked
	if !lk.read {
		lk.read = true
		lk.lock, lk.err = lock.Read(lk.path)
	}
	switch {
	case errors.Is(lk.err, fs.ErrNotExist):
		l.add(at, fmt.Sprintf("plugin %s: a wasm plugin without a path is loaded from the lockfile, and there is no %s: "+
			"run ply plugin install %s, or give the module's path", p.Name, lk.path, p.Name))
		return "", false
	case lk.err != nil:
		l.add(at, fmt.Sprintf("plugin %s: %v", p.Name, lk.err))
		return "", false
	}
	e, ok := lk.lock.Find(p.Name)
	if !ok {
		l.add(at, fmt.Sprintf("plugin %s is not in the lockfile %s: run ply plugin install %s, or give the module's path", p.Name, lk.path, p.Name))
		return "", false
	}
	path, err := lk.cache.Load(e)
	if err != nil {
		l.add(at, err.Error()+" (lockfile "+lk.path+")")
		return "", false
	}
	return path, true
}
