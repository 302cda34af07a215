// Package wasm runs WebAssembly modules as ply plugins, on wazero (pure
// Go, no cgo). A module built with the guest kit
// ([github.com/plykit/ply/wasm/guest]) describes itself in a manifest —
// name, version, priority, dependencies, kinds, options schema — and
// [Open] turns it into a [*Plugin] the host cannot tell from a native one
// but by [Plugin.Runtime]: its options are decoded and validated by ply's
// option path against the manifest's schema (file:line:column, one
// [option.Error] type), and its layer takes part in the onion — continue,
// respond, change headers, or fail with an error naming the plugin.
//
// In ply.yaml:
//
//	plugins:
//	  - name: denylist
//	    runtime: wasm
//	    path: denylist.wasm
//	    grants: {log: true}
//	    limits: {deadline: 50ms, pool: 4}
//	    options: {deny: [mallory]}
//
// # Sandbox
//
// A guest gets only the capabilities granted in [Config.Grants] — log,
// clock, random, kv (its own keys), http (to an allowlist of hosts),
// events (to listed subjects) — and nothing by default: a module importing
// a capability it was not granted does not load ([*CapabilityError]). WASI
// is always there for the guest language's runtime (its clock and random
// seed are not the wall clock and not a ply capability).
//
// # Limits
//
// [Limits] caps each instance's memory, bounds each call with a deadline
// (a guest in an infinite loop is stopped: wazero checks for it at every
// loop back-edge and function entry), and sizes the plugin's pool of
// instances. An instance that trapped or ran out of time is discarded,
// never reused; Limits.Traps failures in a row make [Plugin.Health]
// report degraded; Limits.FailOpen continues the chain past a failed
// guest instead of failing the call. The host never panics because of a
// guest.
//
// # Loading
//
// Modules are compiled once per content hash into wazero's on-disk
// compilation cache ([Config.CacheDir]), so a warm load takes tens of
// milliseconds; each instance looks its exports up once. [Plugin.Stale]
// tells that the file changed, and [Plugin.Reopen] loads it again for
// [ply.Host.Reload]; ply run --watch does so when a module file changes.
//
// The ABI is versioned ([abi.Version]) and documented on one page,
// docs/wasm-abi.md.
package wasm
