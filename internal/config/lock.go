package config

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/plykit/ply/market/discover"
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
	dirs  []string // the file's dir sources, in order of trust
}

func inDirs(dirs []string) string {
	if len(dirs) == 0 {
		return ""
	}
	return " nor in the dir sources " + strings.Join(dirs, ", ")
}

func newLocked(name string, f File) *locked {
	lk := &locked{path: f.Lock, cache: lock.DefaultCache(), lock: &lock.Lock{}}
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
	for _, s := range f.Sources {
		if s.Dir != "" {
			lk.dirs = append(lk.dirs, Resolve(name, s.Dir))
		}
	}
	return lk
}

// Resolve returns path as the file name sees it: relative to its
// directory unless absolute.
func Resolve(name, path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(filepath.Dir(name), path)
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
		if l, err := lock.Read(lk.path); err != nil {
			lk.err = err
		} else {
			lk.lock = l
		}
	}
	if lk.err != nil && !errors.Is(lk.err, fs.ErrNotExist) {
		l.add(at, fmt.Sprintf("plugin %s: %v", p.Name, lk.err))
		return "", false
	}
	e, ok := lk.lock.Find(p.Name)
	if !ok {
		for _, dir := range lk.dirs { // in order of trust: the first that has it
			m, found, _ := discover.Find(context.Background(), dir, p.Name, "")
			if found {
				return m.Path, true
			}
		}
		fix := "run ply plugin install " + p.Name + ", put its module in a dir source, or give its path"
		if errors.Is(lk.err, fs.ErrNotExist) {
			l.add(at, fmt.Sprintf("plugin %s: a wasm plugin without a path is loaded from the lockfile or a dir source, "+
				"and there is no %s%s: %s", p.Name, lk.path, inDirs(lk.dirs), fix))
		} else {
			l.add(at, fmt.Sprintf("plugin %s is not in the lockfile %s%s: %s", p.Name, lk.path, inDirs(lk.dirs), fix))
		}
		return "", false
	}
	path, err := lk.cache.Load(e)
	if err != nil {
		l.add(at, err.Error()+" (lockfile "+lk.path+")")
		return "", false
	}
	return path, true
}
