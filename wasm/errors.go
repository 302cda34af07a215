package wasm

import (
	"errors"
	"fmt"
	"strings"
)

// Errors of a module or a call, matched with errors.Is.
var (
	// ErrModule matches a file that is not a usable ply module: not
	// WebAssembly, missing exports, a bad manifest.
	ErrModule = errors.New("wasm: not a ply module")
	// ErrABI matches a module built for another ABI version.
	ErrABI = errors.New("wasm: ABI version mismatch")
	// ErrTrap matches a call whose guest trapped (a panic, an out-of-bounds
	// access, memory exhausted) or exited.
	ErrTrap = errors.New("wasm: guest trapped")
	// ErrDeadline matches a call the guest did not finish within its
	// deadline.
	ErrDeadline = errors.New("wasm: guest exceeded its deadline")
	// ErrGuest matches a call the guest failed on purpose (Response.Fail).
	ErrGuest = errors.New("wasm: guest failed the call")
	// ErrNoPublisher matches a plugin granted events by a host that gives
	// it no publisher ([Config.Publish]).
	ErrNoPublisher = errors.New("events are granted, but the host gives the plugin no event publisher (wasm.Config.Publish or Setup); remove the events grant")
)

// CapabilityError is a module importing a capability it was not granted,
// or a function the host does not provide.
type CapabilityError struct {
	Path       string
	Import     string // "ply.kv_get"
	Capability string // "kv"; empty for a function no capability provides
}

func (e *CapabilityError) Error() string {
	if e.Capability == "" {
		return fmt.Sprintf("%s imports %s, which ply does not provide (the host provides wasi_snapshot_preview1 and the ply module; see docs/wasm-abi.md)", e.Path, e.Import)
	}
	fix := "add \"" + e.Capability + ": true\" to the plugin's grants"
	if e.Capability == "http" || e.Capability == "events" {
		fix = "list the allowed " + map[string]string{"http": "hosts", "events": "subjects"}[e.Capability] + " under the plugin's grants." + e.Capability
	}
	return fmt.Sprintf("%s imports %s, of capability %s, which is not granted; %s", e.Path, e.Import, e.Capability, fix)
}

// CallError is a call that failed in the guest: it matches [ErrTrap],
// [ErrDeadline] or [ErrGuest].
type CallError struct {
	Kind    error  // ErrTrap, ErrDeadline or ErrGuest
	Message string // the guest's message, or the runtime's
}

func (e *CallError) Error() string {
	if e.Message == "" {
		return e.Kind.Error()
	}
	return e.Kind.Error() + ": " + strings.TrimSpace(e.Message)
}

// Is matches e's kind.
func (e *CallError) Is(target error) bool { return target == e.Kind }
