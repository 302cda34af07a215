package wasm

import (
	"context"
	"fmt"
	"slices"

	"github.com/tetratelabs/wazero"

	"github.com/plykit/ply/wasm/abi"
)

// Inspect reads the manifest of the module in data without a host, as a
// registry or a catalogue does for a module it stores but never serves:
// it compiles the module (with wazero's on-disk cache in cacheDir, as
// [Config.CacheDir]: "" the default, "off" none), checks it as [Open] does,
// instantiates it once with every capability linked but none usable (no
// logger, an empty allowlist of hosts and subjects), reads the manifest
// and closes it. name labels the errors. It also returns the capabilities
// the module imports ("log", "kv"…, sorted): what an operator must grant
// to run it.
//
// Errors match [ErrModule] or [ErrABI], as Open's; a module that runs
// past ctx's deadline while it starts is stopped.
func Inspect(ctx context.Context, name string, data []byte, cacheDir string) (*abi.Manifest, []string, error) {
	if len(data) > MaxModuleSize {
		return nil, nil, fmt.Errorf("%s: over the limit of %d bytes: %w", name, MaxModuleSize, ErrModule)
	}
	cfg := Config{Path: name, CacheDir: cacheDir, Grants: Grants{Log: true, Clock: true, Random: true, KV: true,
		HTTP: []string{"ply.invalid"}, Events: []string{"ply.invalid"}}}
	lim := Limits{MemoryPages: 1024}.withDefaults()
	host := &hostFuncs{plugin: name, kv: &memKV{}, hosts: cfg.Grants.HTTP, subject: cfg.Grants.Events,
		publish: func(context.Context, string, []byte) error { return fmt.Errorf("%s: no events while inspected", name) }}
	e, err := compile(ctx, &cfg, lim, data, host)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = e.close(ctx) }() // nothing kept
	var caps []string
	for _, f := range e.compiled.ImportedFunctions() {
		if mod, fn, _ := f.Import(); mod == "ply" && !slices.Contains(caps, capabilities[fn]) {
			caps = append(caps, capabilities[fn])
		}
	}
	slices.Sort(caps)
	mod, err := e.rt.InstantiateModule(ctx, e.compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions(startFunctions(e.compiled)...))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: instantiate: %w: %w", name, err, ErrModule)
	}
	m, err := readManifest(ctx, name, mod)
	if err != nil {
		return nil, nil, err
	}
	return m, caps, nil
}
