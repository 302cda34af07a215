package cli

import (
	"context"
	"path/filepath"
	"slices"

	"github.com/plykit/ply"
	"github.com/plykit/ply/wasm"
)

// A running WebAssembly plugin whose module file changed is replaced at
// the next reload, even when the config file did not change; ply run
// --watch watches the modules' directories too.

// stale reports whether p is a wasm plugin whose module file changed.
func stale(p ply.Plugin) bool {
	wp, ok := p.(*wasm.Plugin)
	return ok && wp.Stale()
}

// modulesChanged reports whether a running wasm plugin's module changed.
func (l *live) modulesChanged() bool { return slices.ContainsFunc(l.plugins, stale) }

// renewWasm reopens a wasm plugin from its module, for a reload that
// rebuilds it; nil for another plugin, or a module that no longer opens
// (the reload then reports the plugin).
func (l *live) renewWasm(ctx context.Context, old ply.Plugin) ply.Plugin {
	wp, ok := old.(*wasm.Plugin)
	if !ok {
		return nil
	}
	p, err := wp.Reopen(ctx)
	if err != nil {
		l.logger.Error("reload: the wasm module does not open", "plugin", old.Info().Name, "err", err)
		return nil
	}
	return p
}

// moduleDirs returns the directories of the running wasm plugins' modules.
func (l *live) moduleDirs() []string {
	var dirs []string
	for _, p := range l.plugins {
		if wp, ok := p.(*wasm.Plugin); ok && !slices.Contains(dirs, filepath.Dir(wp.Path())) {
			dirs = append(dirs, filepath.Dir(wp.Path()))
		}
	}
	return dirs
}

// isModule reports whether path is a running wasm plugin's module.
func (l *live) isModule(path string) bool {
	for _, p := range l.plugins {
		if wp, ok := p.(*wasm.Plugin); ok && filepath.Clean(wp.Path()) == filepath.Clean(path) {
			return true
		}
	}
	return false
}
