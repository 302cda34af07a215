package wasm

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"

	"github.com/Masterminds/semver/v3"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/plykit/ply/wasm/abi"
)

// MaxModuleSize is the largest module file Open reads: 64 MiB.
const MaxModuleSize = 64 << 20

// capabilities maps each function of the host's "ply" module to the
// capability that grants it.
var capabilities = map[string]string{
	"log":        "log",
	"clock_now":  "clock",
	"random":     "random",
	"kv_get":     "kv",
	"kv_set":     "kv",
	"kv_delete":  "kv",
	"http_fetch": "http",
	"publish":    "events",
}

// granted reports whether g grants capability c.
func (g Grants) granted(c string) bool {
	switch c {
	case "log":
		return g.Log
	case "clock":
		return g.Clock
	case "random":
		return g.Random
	case "kv":
		return g.KV
	case "http":
		return len(g.HTTP) > 0
	case "events":
		return len(g.Events) > 0
	}
	return false
}

// exports every ply module has.
var required = []string{"ply_abi", "ply_buffer", "ply_manifest", "ply_init", "ply_layer"}

// engine is a wazero runtime with one compiled module: what a plugin's
// instances are made from.
type engine struct {
	rt       wazero.Runtime
	cache    wazero.CompilationCache // nil when off
	compiled wazero.CompiledModule
}

func (e *engine) close(ctx context.Context) error {
	err := e.rt.Close(ctx)
	if e.cache != nil {
		err = errors.Join(err, e.cache.Close(ctx))
	}
	return err
}

// readModule reads the file at path, at most MaxModuleSize bytes.
func readModule(path string) ([]byte, [32]byte, error) {
	f, err := os.Open(path) //nolint:gosec // the operator names the module on purpose
	if err != nil {
		return nil, [32]byte{}, err
	}
	defer func() { _ = f.Close() }() // read-only
	data, err := io.ReadAll(io.LimitReader(f, MaxModuleSize+1))
	if err != nil {
		return nil, [32]byte{}, err
	}
	if len(data) > MaxModuleSize {
		return nil, [32]byte{}, fmt.Errorf("%s: over the limit of %d bytes: %w", path, MaxModuleSize, ErrModule)
	}
	return data, sha256.Sum256(data), nil
}

// cacheDir returns the compilation cache's directory, or "" for none.
func cacheDir(dir string) string {
	switch dir {
	case "off":
		return ""
	case "":
		base, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		return filepath.Join(base, "ply", "wasm")
	}
	return dir
}

// compile makes an engine for data under cfg: a runtime with the memory
// limit and termination on context cancellation, WASI for the Go runtime,
// and the granted host functions; then it checks the module's imports
// against the grants and its exports against the ABI.
func compile(ctx context.Context, cfg *Config, lim Limits, data []byte, host *hostFuncs) (*engine, error) {
	rc := wazero.NewRuntimeConfig().WithMemoryLimitPages(lim.MemoryPages).WithCloseOnContextDone(true)
	e := &engine{}
	if dir := cacheDir(cfg.CacheDir); dir != "" {
		c, err := wazero.NewCompilationCacheWithDir(dir)
		if err != nil {
			return nil, fmt.Errorf("compilation cache %s: %w", dir, err)
		}
		e.cache = c
		rc = rc.WithCompilationCache(c)
	}
	e.rt = wazero.NewRuntimeWithConfig(ctx, rc)
	fail := func(err error) (*engine, error) {
		return nil, errors.Join(err, e.close(ctx))
	}
	compiled, err := e.rt.CompileModule(ctx, data)
	if err != nil {
		return fail(fmt.Errorf("%s is not a valid WebAssembly module: %w: %w", cfg.Path, err, ErrModule))
	}
	e.compiled = compiled
	var refused []error // every import refused, not just the first
	for _, f := range compiled.ImportedFunctions() {
		mod, name, _ := f.Import()
		switch mod {
		case wasi_snapshot_preview1.ModuleName:
			continue
		case "ply":
			c, known := capabilities[name]
			if !known {
				refused = append(refused, &CapabilityError{Path: cfg.Path, Import: mod + "." + name})
			} else if !cfg.Grants.granted(c) {
				refused = append(refused, &CapabilityError{Path: cfg.Path, Import: mod + "." + name, Capability: c})
			}
		default:
			refused = append(refused, &CapabilityError{Path: cfg.Path, Import: mod + "." + name})
		}
	}
	if len(refused) > 0 {
		return fail(errors.Join(refused...))
	}
	exported := compiled.ExportedFunctions()
	for _, name := range required {
		if _, ok := exported[name]; !ok {
			return fail(fmt.Errorf("%s does not export %s: build it with the ply guest kit (GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared): %w", cfg.Path, name, ErrModule))
		}
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, e.rt); err != nil {
		return fail(fmt.Errorf("instantiate WASI: %w", err))
	}
	if err := host.instantiate(ctx, e.rt, cfg.Grants); err != nil {
		return fail(fmt.Errorf("instantiate the ply host module: %w", err))
	}
	return e, nil
}

// startFunctions returns the module's initialisers: _initialize for a
// reactor (Go's c-shared), none otherwise.
func startFunctions(c wazero.CompiledModule) []string {
	if _, ok := c.ExportedFunctions()["_initialize"]; ok {
		return []string{"_initialize"}
	}
	return nil
}

// readManifest reads a fresh instance's ABI version and manifest.
func readManifest(ctx context.Context, path string, mod api.Module) (*abi.Manifest, error) {
	res, err := mod.ExportedFunction("ply_abi").Call(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: ply_abi: %w: %w", path, err, ErrModule)
	}
	if v := uint32(res[0]); v != abi.Version { //nolint:gosec // ply_abi returns an i32
		return nil, fmt.Errorf("%s speaks ABI version %d; this host speaks %d: rebuild it with a guest kit of ABI %d: %w", path, v, abi.Version, abi.Version, ErrABI)
	}
	res, err = mod.ExportedFunction("ply_manifest").Call(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: ply_manifest: %w: %w", path, err, ErrModule)
	}
	packed := int64(res[0]) //nolint:gosec // the ABI packs a pointer and a length in an i64
	if packed < 0 {
		msg, _ := readPacked(mod.Memory(), -packed)
		return nil, fmt.Errorf("%s: %s: %w", path, msg, ErrModule)
	}
	b, ok := readPacked(mod.Memory(), packed)
	if !ok {
		return nil, fmt.Errorf("%s: the manifest lies outside the guest's memory: %w", path, ErrModule)
	}
	m, err := abi.DecodeManifest(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", path, err, ErrModule)
	}
	if err := checkManifest(m); err != nil {
		return nil, fmt.Errorf("%s: manifest: %w: %w", path, err, ErrModule)
	}
	return m, nil
}

// readPacked returns the guest memory at a packed pointer<<32|length.
func readPacked(mem api.Memory, packed int64) ([]byte, bool) {
	if mem == nil {
		return nil, false
	}
	return mem.Read(uint32(packed>>32), uint32(packed)) //nolint:gosec // unpacking the ABI's i64: both halves are u32
}

var optionName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// checkManifest checks what DecodeManifest cannot: names, versions and
// the options schema.
func checkManifest(m *abi.Manifest) error {
	if m.Name == "" {
		return errors.New("the plugin has no name")
	}
	if _, err := semver.StrictNewVersion(m.Version); err != nil {
		return fmt.Errorf("plugin %s: version %q is not semver", m.Name, m.Version)
	}
	seen := map[string]bool{}
	for _, f := range m.Options {
		if !optionName.MatchString(f.Name) {
			return fmt.Errorf("option %q: names are letters, digits, _ and -", f.Name)
		}
		if seen[f.Name] {
			return fmt.Errorf("option %q is declared twice", f.Name)
		}
		seen[f.Name] = true
		if f.Pattern != "" {
			if _, err := regexp.Compile(f.Pattern); err != nil {
				return fmt.Errorf("option %q: pattern: %w", f.Name, err)
			}
		}
		if len(f.Enum) > 0 && f.Type != abi.TypeString {
			return fmt.Errorf("option %q: only strings take a list of values", f.Name)
		}
	}
	if slices.Contains(m.Kinds, "") {
		return errors.New("an empty handler kind")
	}
	return nil
}
