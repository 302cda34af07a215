// Package ply is a plugin kernel for Go services: it registers plugins in
// any order, orders them by priority bands and constraints, wires their
// dependencies and typed APIs, checks their options, and runs their
// lifecycle safely.
//
// # Plugins
//
// A plugin implements one method, Info, returning its name, semver
// version, priority, dependencies and ordering constraints. Everything else
// is an optional capability the host discovers by type assertion:
// [Provisioner], [Validator], [BeforeStarter], [Starter], [AfterStarter],
// [Stopper], [Cleaner], [HealthChecker], [Configurable] (options) and
// [Composite] (children). Small plugins can be a [Func] struct literal.
//
// # Order
//
// Lower priority runs first and wraps further out. The bands are named:
// [System] 50, [Security] 100, [Logging] 200, [Business] 300 (the
// default), [Performance] 400 and [Route] 1000. One engine computes both
// orders of a host — Kahn's algorithm whose ready queue is ordered by
// (priority, registration index):
//
//   - the lifecycle order runs it over dependency edges ([Info.Requires]):
//     a dependency is provisioned and started before its dependents;
//   - the chain order runs it over [Info.Before] and [Info.After] edges.
//
// Registration order only breaks ties. Unknown names and cycles are build
// errors that name the cycle ("a -> b -> a"). [Plan.Explain] and [Plan.Why]
// say why each plugin sits where it does. Operators override priorities
// with [WithPriority].
//
// # Lifecycle
//
//	Provision → Validate → BeforeStart → Start → AfterStart → … → Stop → Cleanup
//
// Each phase runs for every plugin before the next begins. Every hook gets
// a context, runs under a per-hook timeout ([WithTimeout]) and under
// recover: a panic becomes a [*PluginError] whose Err is a [*PanicError]. A
// failure rolls back: plugins that started are stopped in reverse, and every
// plugin whose Provision was called is cleaned up. Stop runs every hook even
// when some fail and joins their errors in the order they ran.
//
// # Handlers and the onion
//
// The application mounts handlers in modules ([Host.Mount]). In the Wrap
// phase every [Wrapper] plugin contributes a [Layer] and/or an [AfterHook]
// to the handlers it chooses, and each handler gets one [Chain], compiled
// once in chain order:
//
//	          ┌─ auth (Security 100) ─────────────────────────┐
//	call ───▶ │ before ─▶ ┌─ cache (Performance 400) ───────┐ │
//	          │           │ before ─▶ ┌─────────┐           │ │
//	          │           │           │ handler │           │ │
//	          │           │ after  ◀─ └─────────┘           │ │
//	          │ after  ◀─ └─────────────────────────────────┘ │
//	          └───────────────────────────────────────────────┘
//	          then the after-hooks: auth's, then cache's
//
// Code before next.Run runs outer to inner, code after it inner to outer;
// a layer that returns without calling next short-circuits. Errors flow
// outward and outer layers may map them. A panic in a layer unwinds the
// layers outside it like any Go panic, to the kernel's one recover per
// call, and becomes a [*PluginError] naming the plugin whose layer panicked
// (a [*HandlerError] for the handler), which the after-hooks and the caller
// get; a layer that must see an inner panic as an error — to map it, count
// it or retry — calls [Next.Catch] instead of [Next.Run]. After-hooks always run,
// once the outermost layer returned — after success, short-circuit, error,
// panic or cancellation — in priority order, and may replace the response
// and the error. Layers share request-scoped values with [Get] and [Set]
// under typed keys, without allocating.
//
// # Reloading a running host
//
// The plugin instances and every handler's compiled chain form a
// generation. [Host.Reload] moves a running host to a new configuration:
// it brings up only the plugins that changed (and those depending on
// them), hands each replaced instance's state to its successor
// ([StateExporter], [StateImporter]), swaps every chain to the new
// generation at once, lets the calls in flight finish on the old one, and
// then stops what was replaced; a failure before the swap leaves the old
// generation serving. A call runs wholly on the generation it started on.
// [WithBake] swaps back a generation that fails more than the one it
// replaced; [WithDrainGrace] bounds the drain. Plugins marked [Info.Lazy]
// are loaded at their first use, once.
//
// A stream handler emits items with [Emit], each handed to the caller in
// its own goroutine: [Stream] ranges over them, and [ServeStream] also
// returns the final response and error once the layers and after-hooks ran,
// also when the caller stopped early. A misused next is an error naming the
// plugin: [ErrNextConcurrent], [ErrNextAfterReturn], [ErrNextStillRunning].
//
// # Tenants and versions side by side
//
// [WithTenants] makes a host multi-tenant: a [Selector] reads each call's
// tenant before its chain runs (package tenant reads HTTP headers, host
// names, paths and token claims), and an unknown tenant is refused with a
// [*TenantError], never served by another tenant's chain. Each [Tenant]
// may disable plugins, merge options over the host's, override
// priorities and pin versions; a tenant gets its own instance of a plugin
// only where its options differ ([WithRenew]), and its chains are compiled
// on first use. [TenantOf] and [Call.Tenant] give the call's tenant;
// storage, jobs and metrics scope by it. [Host.SetTenant] and
// [Host.RemoveTenant] reload one tenant alone. Several versions of a
// plugin can be registered: the highest [Active] one serves unless a
// tenant's pin, [WithWeights] or [WithVersionHeader] chooses another;
// [WithRelease] marks versions [Beta] or [Deprecated].
//
// # Plugins talking to each other
//
// A plugin provides a typed API under a [Key] with [Provide]; others get it
// with [Lookup], which returns distinct errors for a plugin that is not
// registered ([ErrNotRegistered]), one that does not provide the key
// ([ErrNoAPI]) and one whose version does not satisfy ([ErrVersionMismatch]).
// Declaring a dependency makes sure the provider is there, and provisioned
// first.
//
// # Options
//
// A plugin's options are a Go struct (zero value = defaults) returned by
// [Configurable.Options]; its JSON Schema ([Schema]) comes from its json and
// jsonschema tags, which hold its limits (a duration's as durations:
// `jsonschema:"minimum=1ms"`); a Validate method checks only what a schema
// cannot say. Options given in code and options read from YAML or JSON
// ([WithOptions]) are checked at build, strictly, and every problem is
// reported at once as an [*option.Error] with the field, the line:column in
// the file and the fix.
package ply
