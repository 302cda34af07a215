package wasm

import (
	"context"

	"errors"
	"github.com/plykit/ply"
	"net/http"
	"runtime"
	"time"
)

// Config is how a host runs one module: where it is, what it may do and
// how much it may take. In ply.yaml it is the plugin's entry with
// runtime: wasm (path, grants, limits).
type Config struct {
	// Path is the module's file.
	Path string `json:"path"`
	// Grants are the capabilities the module may import; nothing by
	// default.
	Grants Grants `json:"grants,omitzero"`
	// Limits bound each instance and call; the zero value is the defaults.
	Limits Limits `json:"limits,omitzero"`
	// CacheDir holds wazero's compilation cache, keyed by module hash.
	// Default: os.UserCacheDir()/ply/wasm; "off" compiles every time.
	CacheDir string `json:"-"`
	// KV backs the kv capability. Each plugin sees only its own keys (the
	// host prefixes them with the plugin's name). Default: a store in
	// memory owned by the plugin, emptied by its Cleanup.
	KV KV `json:"-"`
	// Publish backs the events capability; required when Grants.Events is
	// set.
	Publish func(ctx context.Context, subject string, data []byte) error `json:"-"`
	// Setup, when set, runs at the start of Provision with the host's
	// setup and this Config, to fill what only the running host has — a
	// KV or a Publish backed by another plugin's API (ply.Lookup). Name
	// that plugin in Requires, so that it is provisioned first.
	Setup func(ctx context.Context, s *ply.Setup, c *Config) error `json:"-"`
	// Requires are dependencies the plugin has beside its manifest's: the
	// plugins Setup looks up.
	Requires []ply.Dependency `json:"-"`
	// HTTPClient makes the http capability's requests. Default: a client
	// that refuses redirects to hosts off the allowlist.
	HTTPClient *http.Client `json:"-"`
}

// Grants lists the capabilities a module may use (see docs/wasm-abi.md).
// A module importing a function of a capability it was not granted does
// not load.
type Grants struct {
	Log    bool     `json:"log,omitempty"`    // ply.log: write to the host's log
	Clock  bool     `json:"clock,omitempty"`  // ply.clock_now: the wall clock
	Random bool     `json:"random,omitempty"` // ply.random: crypto-grade random bytes
	KV     bool     `json:"kv,omitempty"`     // ply.kv_get, kv_set, kv_delete: the plugin's own keys
	HTTP   []string `json:"http,omitempty"`   // ply.http_fetch to these hosts ("api.example.com", "localhost:8080")
	Events []string `json:"events,omitempty"` // ply.publish to these subjects ("orders.created", "orders.>")
}

// Limits bound a module's instances and calls.
type Limits struct {
	// MemoryPages caps each instance's linear memory, in 64 KiB pages.
	// Default 512 (32 MiB); a Go guest needs about 60 pages to start.
	MemoryPages uint32 `json:"memoryPages,omitempty" jsonschema:"maximum=65536"`
	// Deadline bounds each call into the guest: a guest still running
	// then is stopped, its instance discarded, and the call fails (or
	// continues, with FailOpen). Default 100ms.
	Deadline time.Duration `json:"deadline,omitempty" jsonschema:"minimum=1ms"`
	// Pool is the most instances the plugin runs at once; calls beyond it
	// wait for one, within their context. Default GOMAXPROCS.
	Pool int `json:"pool,omitempty" jsonschema:"minimum=0,maximum=1024"`
	// Warm is how many instances Provision makes, so that the first calls
	// do not wait for one (a Go guest takes milliseconds to instantiate).
	// Default 1; at most Pool.
	Warm int `json:"warm,omitempty" jsonschema:"minimum=0"`
	// Traps is how many failed calls in a row (traps, deadlines) mark the
	// plugin degraded in health. Default 5.
	Traps int `json:"traps,omitempty" jsonschema:"minimum=0"`
	// FailOpen continues the chain past a guest that trapped or ran out of
	// time, as if it had said continue; the failure is logged. Default:
	// fail closed, the call fails with an error naming the plugin.
	FailOpen bool `json:"failOpen,omitempty"`
	// MaxBody is the largest HTTP request body a plugin that asks for
	// bodies is sent, in bytes; a larger one fails the call. Default 1 MiB.
	MaxBody int `json:"maxBody,omitempty" jsonschema:"minimum=0"`
}

func (l Limits) withDefaults() Limits {
	if l.MemoryPages == 0 {
		l.MemoryPages = 512
	}
	if l.Deadline == 0 {
		l.Deadline = 100 * time.Millisecond
	}
	if l.Pool == 0 {
		l.Pool = runtime.GOMAXPROCS(0)
	}
	if l.Warm == 0 {
		l.Warm = 1
	}
	l.Warm = min(l.Warm, l.Pool)
	if l.Traps == 0 {
		l.Traps = 5
	}
	if l.MaxBody == 0 {
		l.MaxBody = 1 << 20
	}
	return l
}

// KV is a key-value store for the kv capability. Get returns an error
// matching [ErrNotFound] for a missing key. It must be safe for
// concurrent use.
type KV interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Put(ctx context.Context, key string, value []byte) error
	Delete(ctx context.Context, key string) error
}

// ErrNotFound is what a [KV] returns for a key without a value.
var ErrNotFound = errors.New("wasm: key not found")
