// Package cli is the ply command: it runs, checks and explains a plugin
// host described by a YAML file. main stays tiny; build your own binary
// with extra plugins by passing them to [New]:
//
//	func main() { os.Exit(cli.Main(cli.WithPlugin("audit", audit.New))) }
//
// # Commands
//
//	ply run FILE [--watch]   start the host; reload on SIGHUP (and when FILE
//	                         changes, with --watch); stop on SIGINT/SIGTERM
//	ply validate FILE        report every problem in FILE at once
//	ply plugins [--schema]   list the plugins this binary knows (--schema: as JSON)
//	ply explain FILE [ROUTE] each route's chain, and why
//	ply graph FILE           the plugin graph as DOT, Mermaid or SVG
//	ply config push FILE     push FILE to a fleet (ply run --fleet) as a new revision
//	ply config status        what each host of a fleet serves
//	ply version, ply --version
//
// # Exit status
//
// 0 on success, 1 when the command fails (a file with problems, a host
// that does not start), 2 for a usage error (an unknown command or flag, a
// missing or extra argument).
//
// # Reloading
//
// ply run reloads its host from FILE on SIGHUP and, with --watch, when
// FILE changes (debounced, and only when its contents changed). The file
// is checked as ply validate checks it; a file with problems is reported
// with file:line:column and changes nothing. The plugins whose entries did
// not change carry over as the same instances ([ply.Host.Reload]); one
// whose options changed is built anew from the catalog. --drain-grace
// bounds how long the old configuration's requests may run.
//
// # Fleet
//
// ply run --fleet URLS takes the host's configuration from the fleet's
// JetStream KV bucket instead of FILE (which serves until a revision is
// pushed, or when the current one does not load), reloads on every
// revision as on SIGHUP, and reports the revision and generation it
// serves, or the revision it refused and why. ply config push writes a
// revision only if the fleet is still at the revision it was based on.
//
// # Telemetry
//
// The library uses only the OpenTelemetry API; ply run wires the SDK, as
// OpenTelemetry advises for programs. It sets the global MeterProvider (an
// SDK provider read by a Prometheus exporter on a registry of its own), the
// global TracerProvider (an SDK provider that writes every ended span to
// standard output as JSON) and the global propagator (W3C TraceContext and
// Baggage, so trace context also crosses NATS through the event bus). The
// stock metrics plugin serves the exporter's registry on its path
// ("/metrics"), and the stock tracing plugin starts its spans with that
// provider. A plugin passed with [WithPlugin] under the name "metrics" or
// "tracing" replaces them and gets nothing wired but the globals.
//
// # Environment variables
//
// In a config file, ${NAME} in a value is replaced with the environment
// variable NAME after the file is parsed: in values only, never in keys
// or comments. $${NAME} is a literal ${NAME}. A value that is exactly one
// reference takes the type of what it becomes ("port: ${PORT}" is a
// number); in a flow collection ({...}, [...]) quote it: "${NAME}".
package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/plykit/ply"
	"github.com/plykit/ply/internal/config"
	"github.com/plykit/ply/option"
)

// An Option configures the command.
type Option interface{ apply(*app) }

type optionFunc func(*app)

func (f optionFunc) apply(a *app) { f(a) }

// WithPlugin makes a plugin available to config files under name.
// Repeated, the last one for a name wins.
func WithPlugin(name string, newPlugin func() ply.Plugin) Option {
	return optionFunc(func(a *app) {
		a.catalog[name] = newPlugin
		a.replaced[name] = true
	})
}

// WithHostOptions adds options to every host the command builds.
func WithHostOptions(opts ...ply.Option) Option {
	return optionFunc(func(a *app) { a.hostOpts = append(a.hostOpts, opts...) })
}

type app struct {
	catalog  config.Catalog
	replaced map[string]bool // catalog entries that WithPlugin set
	hostOpts []ply.Option
	extra    []ply.Plugin // registered beside the file's plugins in every generation (ply run's admin page)
	server   string
	stdout   io.Writer
	stderr   io.Writer
}

// New returns the root command with the stock plugins and opts.
func New(opts ...Option) *cobra.Command {
	a := &app{catalog: stockCatalog(), replaced: map[string]bool{}, server: "httpserver", stdout: os.Stdout, stderr: os.Stderr}
	for _, o := range opts {
		o.apply(a)
	}
	root := &cobra.Command{
		Use:           "ply",
		Short:         "Run and inspect ply plugin hosts",
		Long:          "ply runs and inspects plugin hosts described by a YAML file." + exitStatus + envHelp,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError(errors.New("give a command; run 'ply --help' to see them"))
			}
			msg := fmt.Sprintf("unknown command %q", args[0])
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += fmt.Sprintf("; did you mean %q?", s[0])
			}
			return usageError(errors.New(msg + "; run 'ply --help' to see the commands"))
		},
	}
	root.SuggestionsMinimumDistance = 2
	root.SetVersionTemplate("ply {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	root.AddCommand(a.runCmd(), a.validateCmd(), a.pluginsCmd(), a.explainCmd(), a.graphCmd(), a.configCmd(), versionCmd())
	root.AddCommand(a.registryCmd(), a.pluginCmd()) // the marketplace (market.go)
	for _, c := range root.Commands() {
		c.Long = cmp.Or(c.Long, c.Short) + exitStatus
		if c.Args != nil {
			c.Args = usageArgs(c.Args)
		}
	}
	return root
}

const exitStatus = "\n\nExit status: 0 on success, 1 when the command fails, 2 for a usage error."

const envHelp = "\n\nIn a config file, ${NAME} in a value is replaced with the environment variable NAME, " +
	"after parsing: in values only, never in keys or comments; $${NAME} is a literal ${NAME}. " +
	"A value that is exactly one reference takes the type of its text (\"port: ${PORT}\" is a number); " +
	"in a flow collection ({...} or [...]) quote it: \"${NAME}\". A variable that is not set is an error."

// usageError marks err as bad usage: exit status 2.
func usageError(err error) error { return fmt.Errorf("%w: %w", errUsage, err) }

// usageArgs makes an argument check's error a usage error.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError(fmt.Errorf("%s: %w; run 'ply %s --help'", cmd.Name(), err, cmd.Name()))
		}
		return nil
	}
}

// Main runs the command with os.Args and returns the exit code: 0, 1 for
// a failure, 2 for bad usage (an unknown command or flag, a missing or
// extra argument).
func Main(opts ...Option) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := New(opts...)
	err := cmd.ExecuteContext(ctx)
	if err != nil {
		_, _ = fmt.Fprintln(cmd.ErrOrStderr(), "ply:", err) // nowhere left to report a failed write
	}
	return ExitCode(err)
}

// ExitCode is the exit status for an error of the command: 0 for nil, 2
// for bad usage, 1 for any other failure.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	return 1
}

var errUsage = errors.New("usage")

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the ply version (also ply --version)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, _ = fmt.Fprintln(cmd.OutOrStdout(), "ply", version())
			return nil
		},
	}
}

// version is the module version of ply in this binary.
func version() string {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		v = cmp.Or(bi.Main.Version, v)
		for _, dep := range bi.Deps {
			if dep.Path == "github.com/plykit/ply" {
				v = dep.Version
			}
		}
	}
	return v
}

// load reads a config file, builds its host and plans it: every check that
// ply run makes before it provisions plugins and binds its listener. The
// problems of the file and of the plugins' options come together, in file
// order.
func (a *app) load(path string, extra ...ply.Option) (*ply.Host, *ply.Plan, *config.Host, error) {
	data, err := config.ReadFile(path)
	if err != nil {
		return nil, nil, nil, err
	}
	return a.loadData(path, data, nil, extra...)
}

// loadData is load for the file's contents, data; prev is the file as
// loaded before, when this is a reload (see [config.LoadAgain]).
func (a *app) loadData(path string, data []byte, prev *config.Host, extra ...ply.Option) (*ply.Host, *ply.Plan, *config.Host, error) {
	cfg, loadErr := config.LoadAgain(path, data, a.catalog, a.server, prev)
	if cfg == nil {
		return nil, nil, nil, loadErr
	}
	opts := append(append(append([]ply.Option(nil), cfg.Options...), a.hostOpts...), extra...)
	h, err := ply.New(cfg.Plugins, opts...)
	if err != nil {
		return nil, nil, nil, inFileOrder(errors.Join(loadErr, err), path, cfg)
	}
	plan, planErr := h.Plan()
	if err := errors.Join(loadErr, planErr); err != nil {
		return nil, nil, nil, inFileOrder(err, path, cfg)
	}
	return h, plan, cfg, nil
}

// atPlugin is an error about a plugin, put at the plugin's entry in the
// file.
type atPlugin struct {
	file      string
	line, col int
	err       error
}

func (e *atPlugin) Error() string { return fmt.Sprintf("%s:%d:%d: %v", e.file, e.line, e.col, e.err) }
func (e *atPlugin) Unwrap() error { return e.err }

// inFileOrder flattens joined errors and sorts them by their position in
// the file; an error about a plugin without a position of its own is put
// at the plugin's entry (see [config.Host.PluginPosition]). Errors without
// a position keep their order, after the others.
func inFileOrder(err error, file string, cfg *config.Host) error {
	var all []error
	var flatten func(error)
	flatten = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok { // only joins are flattened
			for _, e := range j.Unwrap() {
				flatten(e)
			}
			return
		}
		plugin := ""
		if e, ok := errors.AsType[*ply.DependencyError](err); ok {
			plugin = e.Plugin
		} else if e, ok := errors.AsType[*option.Error](err); ok && e.Line == 0 {
			plugin = e.Plugin
		}
		if line, col := cfg.PluginPosition(plugin); line > 0 {
			err = &atPlugin{file: file, line: line, col: col, err: err}
		}
		all = append(all, err)
	}
	flatten(err)
	pos := func(err error) (line, col int) {
		if e, ok := errors.AsType[*option.Error](err); ok && e.Line > 0 { // from the file's loader or the host
			return e.Line, e.Column
		}
		if e, ok := err.(*atPlugin); ok { //nolint:errorlint // made above, never wrapped
			return e.line, e.col
		}
		return math.MaxInt, 0
	}
	slices.SortStableFunc(all, func(a, b error) int {
		la, ca := pos(a)
		lb, cb := pos(b)
		return cmp.Or(cmp.Compare(la, lb), cmp.Compare(ca, cb))
	})
	return errors.Join(all...)
}
