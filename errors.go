package ply

import (
	"context"
	"errors"
	"strings"

	"github.com/plykit/ply/internal/fault"
)

// Sentinel errors. Match them with [errors.Is].
var (
	// ErrDuplicate: two plugins were registered with the same name and
	// version, or one API key was provided twice.
	ErrDuplicate = errors.New("ply: duplicate")
	// ErrNotRegistered: no plugin of that name is registered.
	ErrNotRegistered = errors.New("ply: plugin not registered")
	// ErrNoAPI: the plugin is registered but provides no API under that key
	// (or provides it with another type).
	ErrNoAPI = errors.New("ply: plugin provides no such API")
	// ErrVersionMismatch: the plugin is registered, but no registered version
	// satisfies the constraint.
	ErrVersionMismatch = errors.New("ply: version does not satisfy constraint")
	// ErrInvalidInfo: a plugin's Info is unusable (empty name, bad semver,
	// bad constraint, unknown Before/After name), or a mounted handler lacks
	// its Func or Kind. [ErrEmptyName] and [ErrUnknownName] are kinds of it.
	ErrInvalidInfo = errors.New("ply: invalid plugin info")
	// ErrStarted: the host was already started (registering after Start,
	// or starting twice).
	ErrStarted = errors.New("ply: host already started")
	// ErrDegraded is returned (wrapped) by [HealthChecker.Health] to report
	// a plugin that works with reduced service. The middleware package's
	// layers report it too, without importing ply: it is one sentinel.
	ErrDegraded = fault.ErrDegraded
	// ErrNotStarted: the host has not started, or has stopped ([Host.Ready],
	// [Host.Reload]).
	ErrNotStarted = errors.New("ply: host not started")
	// ErrNoChain: no handler of that module and name is mounted, or the
	// host has not compiled its chains yet ([Host.Chain]).
	ErrNoChain = errors.New("ply: no such chain")

	// ErrEmptyName: a plugin, module or handler has an empty name. It also
	// matches [ErrInvalidInfo].
	ErrEmptyName error = &kindError{"ply: empty name", ErrInvalidInfo}
	// ErrUnknownName: an [Info.Before] or [Info.After] constraint names no
	// registered plugin. It also matches [ErrInvalidInfo].
	ErrUnknownName error = &kindError{"ply: Before/After names no registered plugin", ErrInvalidInfo}
	// ErrHookTimeout: a hook did not return by its deadline and was
	// abandoned (see [WithTimeout]). It also matches
	// [context.DeadlineExceeded]; a hook that returns
	// context.DeadlineExceeded itself in time does not match ErrHookTimeout.
	ErrHookTimeout error = &kindError{"ply: hook did not return by its deadline", context.DeadlineExceeded}
)

// Misuses of a layer's [Next], each a kind of [ErrNextMisused]. The call
// reports them as a [*PluginError] naming the misusing plugin (Op
// [OpLayer]); match the kind with [errors.Is].
var (
	// ErrNextConcurrent: next was called while an earlier call of it (or of
	// another next of the same layer invocation) was still running. The
	// second caller gets it.
	ErrNextConcurrent error = &kindError{"ply: next called concurrently", ErrNextMisused}
	// ErrNextAfterReturn: next was called after the layer that received it
	// returned.
	ErrNextAfterReturn error = &kindError{"ply: next called after its layer returned", ErrNextMisused}
	// ErrNextStillRunning: a layer returned while its next was still
	// running (on a goroutine the layer started). The goroutine left inside
	// next gets it when its next.Run returns.
	ErrNextStillRunning error = &kindError{"ply: layer returned while its next was still running", ErrNextMisused}
)

// kindError is a sentinel that is one kind of a broader sentinel:
// [errors.Is] matches it, and its kind.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }

func (e *kindError) Is(target error) bool { return target == e.kind }

// PluginError records a lifecycle step that failed in one plugin.
type PluginError struct {
	Op      string // the hook: "provision", "validate", "start", "stop", …
	Plugin  string
	Version string
	Err     error // a *PanicError when the hook panicked
}

func (e *PluginError) Error() string { // "start cache@0.3.1: dial tcp: …"
	return e.Op + " " + e.Plugin + "@" + e.Version + ": " + e.Err.Error()
}

func (e *PluginError) Unwrap() error { return e.Err }

// PanicError is a recovered panic, with the stack of the goroutine that
// panicked: Value is what was passed to panic, Stack the goroutine's stack.
// Unwrap returns Value when it is an error. The stream package returns it
// for a producer that panicked, without importing ply: it is one type.
type PanicError = fault.PanicError

// DependencyError is a dependency that cannot be met: the required plugin is
// missing (Err matches [ErrNotRegistered]) or no registered version
// satisfies the constraint ([ErrVersionMismatch]), or it failed to start.
type DependencyError struct {
	Plugin, Version string // the dependent
	Dependency      string
	Constraint      string
	Found           []string // versions registered under Dependency
	Err             error
}

func (e *DependencyError) Error() string {
	msg := "plugin " + e.Plugin + "@" + e.Version + " requires " + e.Dependency
	if e.Constraint != "" {
		msg += " " + e.Constraint
	}
	if len(e.Found) > 0 {
		msg += " (registered: " + strings.Join(e.Found, ", ") + ")"
	}
	return msg + ": " + e.Err.Error()
}

func (e *DependencyError) Unwrap() error { return e.Err }

// CycleError is a cycle among ordering constraints or dependencies. Path
// starts and ends with the same plugin: [a b a] is "a -> b -> a".
type CycleError struct {
	Kind string // "order" for Before/After constraints, "dependency" for Requires
	Path []string
}

func (e *CycleError) Error() string {
	return "ply: " + e.Kind + " cycle: " + strings.Join(e.Path, " -> ")
}
