package ply

import (
	"context"
)

// Plugin is the one interface every plugin implements. Everything else a
// plugin can do is an optional capability, discovered by type assertion:
// [Provisioner], [Validator], [BeforeStarter], [Starter], [AfterStarter],
// [Stopper], [Cleaner], [HealthChecker], [Configurable], [Composite],
// [Wrapper], [Binder] and [HandlerConfigurable].
// A missing capability is not an error.
//
// Info is called during registration and build; it must be cheap, must not
// block and must return the same value every time.
type Plugin interface {
	Info() Info
}

// Info identifies a plugin and states where it goes.
type Info struct {
	// Name is unique within a host (several versions of one name may be
	// registered side by side). Required. Dots are allowed ("auth.jwt").
	Name string
	// Version is a semantic version ("1.4.2"). Required.
	Version string
	// Priority places the plugin: lower runs first and wraps further out.
	// Zero means [Business]; use the named bands ([System], [Security],
	// [Logging], [Business], [Performance], [Route]) or any other int.
	// Operators may override it per deployment with [WithPriority].
	Priority int
	// Requires lists the plugins this one depends on. A dependency is
	// provisioned and started before its dependents.
	Requires []Dependency
	// Before and After are hard ordering constraints on the chain: this
	// plugin's layer wraps (Before) or is wrapped by (After) the named
	// plugins' layers. They name plugins that must be registered.
	Before, After []string
	// Kinds are the handler kinds the plugin may wrap ([KindHTTP], [KindJob],
	// …); empty means every kind. See [Wrapper].
	Kinds []Kind
	// Policy says what a failure of this plugin does to the host.
	Policy Policy
	// Lazy plugins are not provisioned or started with the host: the first
	// call of a chain they wrap, or the first [Lookup] of their API, loads
	// them (Provision, Validate, Bind, BeforeStart, Start, AfterStart),
	// once, however many calls arrive together; the others wait within
	// their context. A failed load fails every waiting call and is tried
	// again by a later one, after a backoff. Health reports them [Lazy],
	// then [Loading], then [OK].
	Lazy bool
	// Description is one line for listings and explanations.
	Description string
}

// ID returns "name@version", the key under which a host holds a plugin.
func (i Info) ID() string { return i.Name + "@" + i.Version }

// A Dependency names another plugin and the versions that satisfy.
type Dependency struct {
	Name string
	// Constraint is a semver constraint ("^1.2", ">= 2, < 3"); empty means any.
	Constraint string
	// Optional dependencies may be absent; a present one must still satisfy
	// Constraint and start successfully.
	Optional bool
}

// Policy is what a host does when a plugin fails.
type Policy int

const (
	// PolicyRequired plugins stop the host when they fail (the default).
	PolicyRequired Policy = iota
	// PolicyOptional plugins are marked failed and left out; the host runs without
	// them and logs it at error level. Plugins that require a failed optional
	// plugin fail with it.
	PolicyOptional
)

func (p Policy) String() string {
	if p == PolicyOptional {
		return "optional"
	}
	return "required"
}

// Provisioner is implemented by plugins that set themselves up: read their
// options, create clients, provide typed APIs with [Provide] and look up
// those of their dependencies with [Lookup]. Dependencies are provisioned
// first.
type Provisioner interface {
	Provision(ctx context.Context, s *Setup) error
}

// Validator is implemented by plugins that check their state after every
// plugin was provisioned. All validators run, and their errors are joined.
type Validator interface {
	Validate(ctx context.Context) error
}

// BeforeStarter is implemented by plugins that must act after every plugin
// was validated but before any starts.
type BeforeStarter interface {
	BeforeStart(ctx context.Context) error
}

// Starter is implemented by plugins that run background work. Start must
// return once the work is running; the work stops in [Stopper.Stop]. A
// listener must accept connections by the time Start returns.
type Starter interface {
	Start(ctx context.Context) error
}

// AfterStarter is implemented by plugins that act once every plugin has
// started, and so once the host serves.
type AfterStarter interface {
	AfterStart(ctx context.Context) error
}

// Stopper is implemented by plugins that stop what Start started. Stop runs
// only for plugins whose Start succeeded, in reverse start order.
type Stopper interface {
	Stop(ctx context.Context) error
}

// Cleaner is implemented by plugins that release what Provision acquired.
// Cleanup runs for every plugin whose Provision was called, even one that
// failed, in reverse lifecycle order.
type Cleaner interface {
	Cleanup(ctx context.Context) error
}

// HealthChecker is implemented by plugins that report their health. A nil
// error is healthy; an error matching [ErrDegraded] is degraded; any other
// error is failed.
type HealthChecker interface {
	Health(ctx context.Context) error
}

// Configurable is implemented by plugins that take options. Options returns
// a pointer to the plugin's options struct: its zero value means defaults,
// its json tags name the fields and its jsonschema tags set the limits (see
// [Schema]). If the struct has a Validate() error method, it is called after
// the schema checks, for what a schema cannot say; it names the field at
// fault with an [*option.Error]. Options from a file ([WithOptions]) replace the
// struct's contents when [Host.Start] begins, before the first hook (a
// [Host.Plan] decodes and checks them, but does not write them); options
// set in code are validated the same way.
type Configurable interface {
	Options() any
}

// Composite is implemented by plugins made of other plugins. The children
// are registered right after the composite, in order, and start after it.
type Composite interface {
	Plugins() []Plugin
}

// Func is a plugin written as a struct literal: each non-nil function field
// is the matching hook. It suits small plugins and tests.
//
//	audit := ply.Func{
//		Meta:    ply.Info{Name: "audit", Version: "1.0.0", Priority: ply.Logging},
//		OnStart: func(ctx context.Context) error { return nil },
//	}
type Func struct {
	Meta          Info
	Opts          any // pointer to an options struct, as returned by [Configurable]
	Children      []Plugin
	OnProvision   func(ctx context.Context, s *Setup) error
	OnValidate    func(ctx context.Context) error
	OnBeforeStart func(ctx context.Context) error
	OnStart       func(ctx context.Context) error
	OnAfterStart  func(ctx context.Context) error
	OnStop        func(ctx context.Context) error
	OnCleanup     func(ctx context.Context) error
	OnHealth      func(ctx context.Context) error
	// OnWrap, when set, contributes to handler chains as [Wrapper.Wrap].
	OnWrap func(ctx context.Context, t Target) (Wrap, error)
	// OnBind, when set, receives the wrapped handlers as [Binder.Bind].
	OnBind func(ctx context.Context, chains []*Chain) error
	// HandlerOpts, when set, returns a new options value for a module or
	// handler, as [HandlerConfigurable.HandlerOptions].
	HandlerOpts func() any
}

// Info returns f.Meta.
func (f Func) Info() Info { return f.Meta }

// Options returns f.Opts.
func (f Func) Options() any { return f.Opts }

// Plugins returns f.Children.
func (f Func) Plugins() []Plugin { return f.Children }

// Health calls f.OnHealth, or reports healthy when it is nil.
func (f Func) Health(ctx context.Context) error {
	if f.OnHealth == nil {
		return nil
	}
	return f.OnHealth(ctx)
}
