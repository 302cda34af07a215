package config

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/plykit/ply"
	"github.com/plykit/ply/wasm"
)

// wasmPlugin opens the WebAssembly module of entry i (runtime: wasm): its
// path is relative to the file; without a path, the lockfile pins it (see
// lockedPath). Problems are reported at their line: a
// capability the module imports but was not granted at grants (or at the
// entry when it has none), an unusable module at path, a manifest whose
// name is not the entry's at name.
func (l *loader) wasmPlugin(i int, p Plugin) (ply.Plugin, bool) {
	at := func(field string) string { return fmt.Sprintf("plugins[%d].%s", i, field) }
	path := p.Path
	if path == "" { // pinned by the lockfile: from the cache, verified
		var ok bool
		if path, ok = l.lockedPath(i, p); !ok {
			return nil, false
		}
	} else if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(l.name), path)
	}
	cfg := wasm.Config{Path: path}
	if p.Grants != nil {
		cfg.Grants = *p.Grants
	}
	if p.Limits != nil {
		cfg.Limits = *p.Limits
	}
	wp, err := wasm.Open(context.Background(), cfg)
	if err != nil {
		var ce *wasm.CapabilityError
		switch {
		case errors.As(err, &ce) && p.Grants != nil:
			l.add(at("grants"), "plugin "+p.Name+": "+err.Error())
		case errors.As(err, &ce):
			l.add(at("name"), "plugin "+p.Name+": "+err.Error())
		default:
			l.add(at("path"), "plugin "+p.Name+": "+err.Error())
		}
		return nil, false
	}
	if name := wp.Info().Name; name != p.Name {
		l.add(at("name"), fmt.Sprintf("the module %s is the plugin %q: name the entry %q", p.Path, name, name))
		return nil, false
	}
	return wp, true
}
