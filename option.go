package ply

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// An Option configures a [Host].
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// Lifecycle hook names, as they appear in [PluginError.Op], [Step.Op] and
// [WithTimeout].
const (
	OpProvision   = "provision"
	OpValidate    = "validate"
	OpBeforeStart = "beforestart"
	OpStart       = "start"
	OpAfterStart  = "afterstart"
	OpStop        = "stop"
	OpCleanup     = "cleanup"
	OpHealth      = "health"
	OpWrap        = "wrap"
	OpBind        = "bind"
	// OpExport and OpImport name the state hand-off of a reload
	// ([StateExporter], [StateImporter]).
	OpExport = "export"
	OpImport = "import"
	// OpLayer and OpAfter name the step of a [*PluginError] returned by a
	// call: a layer that panicked or misused next, an after-hook that
	// panicked.
	OpLayer = "layer"
	OpAfter = "after"
)

var ops = []string{OpProvision, OpValidate, OpWrap, OpBind, OpBeforeStart, OpStart, OpAfterStart, OpStop, OpCleanup, OpHealth, OpExport, OpImport}

// DefaultTimeout bounds each lifecycle hook unless [WithTimeout] says
// otherwise.
const DefaultTimeout = 15 * time.Second

type config struct {
	logger      *slog.Logger
	timeouts    map[string]time.Duration
	defaults    []Plugin
	priorities  map[string]int
	lazy        map[string]bool
	options     map[string]RawOptions
	observers   []func(Step)
	modules     []*Module
	stopTimeout time.Duration
	healthCache time.Duration
	drainGrace  time.Duration
	bake        bakeConfig
	tn          tenantConfig // tenants and versions side by side: tenant.go, version.go
	errs        []error
}

// WithLogger sets the host's logger. Default: [slog.Default].
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l == nil {
			c.errs = append(c.errs, errors.New("ply: WithLogger(nil): pass a logger, or slog.New(slog.DiscardHandler) to discard"))
			return
		}
		c.logger = l
	})
}

// WithTimeout bounds every call of the lifecycle hook op (one of the Op
// constants) in every plugin. A hook that has not returned by then is
// abandoned and fails with a [*PluginError] matching [ErrHookTimeout] (and
// [context.DeadlineExceeded]). Default: [DefaultTimeout].
func WithTimeout(op string, d time.Duration) Option {
	return optionFunc(func(c *config) {
		known := false
		for _, o := range ops {
			known = known || o == op
		}
		switch {
		case !known:
			c.errs = append(c.errs, fmt.Errorf("ply: WithTimeout(%q): unknown hook; use one of %v", op, ops))
		case d <= 0:
			c.errs = append(c.errs, fmt.Errorf("ply: WithTimeout(%q, %v): must be > 0", op, d))
		default:
			c.timeouts[op] = d
		}
	})
}

// WithStopTimeout bounds how long [Host.Run] waits for plugins to stop once
// it was told to stop. Default: 30s.
func WithStopTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d <= 0 {
			c.errs = append(c.errs, fmt.Errorf("ply: WithStopTimeout(%v): must be > 0", d))
			return
		}
		c.stopTimeout = d
	})
}

// WithHealthCache sets how long [Host.Health] and [Host.Ready] reuse a
// plugin's last health check result before they check it again, so that
// frequent probes do not hammer the plugins. 0 checks on every call. A
// negative d is an error. Default: 1s.
func WithHealthCache(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d < 0 {
			c.errs = append(c.errs, fmt.Errorf("ply: WithHealthCache(%v): must be >= 0 (0 checks on every call)", d))
			return
		}
		c.healthCache = d
	})
}

// WithDefaults declares the host's default plugins. They are registered
// before every other plugin; a plugin registered under a default's name
// takes that default's place (and registration slot), and the default never
// runs. Repeated, the last one wins.
func WithDefaults(plugins ...Plugin) Option {
	return optionFunc(func(c *config) { c.defaults = plugins })
}

// WithoutDefaults leaves out the default plugins; it is WithDefaults().
func WithoutDefaults() Option { return WithDefaults() }

// WithPriority overrides the priority of the plugin named name (all its
// versions), for both the lifecycle and the chain order. It is the
// operator's knob: no code changes. Naming no registered plugin is a build
// error.
func WithPriority(name string, priority int) Option {
	return optionFunc(func(c *config) { c.priorities[name] = priority })
}

// WithLazy marks the plugins named names lazy (see [Info.Lazy]), as an
// operator's choice: no code changes. Naming no registered plugin is a
// build error.
func WithLazy(names ...string) Option {
	return optionFunc(func(c *config) {
		for _, name := range names {
			c.lazy[name] = true
		}
	})
}

// RawOptions are a plugin's options as written in a YAML or JSON document.
type RawOptions struct {
	File string // the name used in error positions, e.g. "ply.yaml"
	Data []byte // the whole document
	Path string // YAML path of the options inside Data ("$.plugins.cache.options"); empty for the whole document

	// Env, when set, looks up the environment variables that ${NAME} in a
	// value of the options refers to: ${NAME} is replaced after parsing, in
	// scalar values only (never in keys or comments), and $${NAME} stands
	// for a literal ${NAME}. Nil leaves values as written.
	Env func(name string) (value string, ok bool)
}

// WithOptions gives the plugin named name its options from a document. They
// replace, not merge with, the options the plugin was given in code. They
// are decoded strictly (unknown keys are errors) and validated at build;
// problems are [*option.Error]s with line:column in the document.
func WithOptions(name string, raw RawOptions) Option {
	return optionFunc(func(c *config) { c.options[name] = raw })
}

// WithModules mounts modules of handlers, as [Host.Mount] does. Repeated,
// the modules add up.
func WithModules(modules ...Module) Option {
	return optionFunc(func(c *config) {
		for _, m := range modules {
			m.Handlers = slices.Clone(m.Handlers)
			c.modules = append(c.modules, &m)
		}
	})
}

// Step is one lifecycle hook that ran, as reported to observers.
type Step struct {
	Op              string
	Plugin, Version string
	Handler         string // "module/handler" for the wrap step; empty otherwise
	Duration        time.Duration
	Err             error // nil when the hook succeeded
}

// WithObserver calls observe after every lifecycle hook that runs, in the
// order they run, from the goroutine running the lifecycle. Several
// observers may be given; they are called in order.
func WithObserver(observe func(Step)) Option {
	return optionFunc(func(c *config) { c.observers = append(c.observers, observe) })
}

func newConfig(opts []Option) (config, error) {
	c := config{
		logger:      slog.Default(),
		timeouts:    make(map[string]time.Duration),
		priorities:  make(map[string]int),
		lazy:        make(map[string]bool),
		options:     make(map[string]RawOptions),
		stopTimeout: 30 * time.Second,
		healthCache: time.Second,
	}
	for _, op := range ops {
		c.timeouts[op] = DefaultTimeout
	}
	for _, o := range opts {
		if o == nil {
			c.errs = append(c.errs, errors.New("ply: nil Option"))
			continue
		}
		o.apply(&c)
	}
	return c, errors.Join(c.errs...)
}
