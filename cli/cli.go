// Package cli is the ply command: it runs, checks and explains a plugin
// host described by a YAML file. main stays tiny; build your own binary
// with extra plugins by passing them to [New]:
//
//	func main() { os.Exit(cli.Main(cli.WithPlugin("audit", audit.New))) }
//
// # Commands
//
//	ply run FILE            start the host; stop on SIGINT/SIGTERM
//	ply validate FILE       report every problem in FILE at once
//	ply plugins [--schema]  list the plugins this binary knows
//	ply explain FILE [ROUTE] each route's chain, and why
//	ply graph FILE          the plugin graph as DOT, Mermaid or SVG
//	ply version
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/plykit/ply"
	"github.com/plykit/ply/internal/config"
)

// An Option configures the command.
type Option interface{ apply(*app) }

type optionFunc func(*app)

func (f optionFunc) apply(a *app) { f(a) }

// WithPlugin makes a plugin available to config files under name.
// Repeated, the last one for a name wins.
func WithPlugin(name string, newPlugin func() ply.Plugin) Option {
	return optionFunc(func(a *app) { a.catalog[name] = newPlugin })
}

// WithHostOptions adds options to every host the command builds.
func WithHostOptions(opts ...ply.Option) Option {
	return optionFunc(func(a *app) { a.hostOpts = append(a.hostOpts, opts...) })
}

type app struct {
	catalog  config.Catalog
	hostOpts []ply.Option
	server   string
	stdout   io.Writer
	stderr   io.Writer
}

// New returns the root command with the stock plugins and opts.
func New(opts ...Option) *cobra.Command {
	a := &app{catalog: stockCatalog(), server: "httpserver", stdout: os.Stdout, stderr: os.Stderr}
	for _, o := range opts {
		o.apply(a)
	}
	root := &cobra.Command{
		Use:           "ply",
		Short:         "Run and inspect ply plugin hosts",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(a.runCmd(), a.validateCmd(), a.pluginsCmd(), a.explainCmd(), a.graphCmd(), versionCmd())
	return root
}

// Main runs the command with os.Args and returns the exit code: 0, 1 for
// an error, 2 for bad usage.
func Main(opts ...Option) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := New(opts...)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(cmd.ErrOrStderr(), "ply:", err)
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

var errUsage = errors.New("usage")

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the ply version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := "(devel)"
			if bi, ok := debug.ReadBuildInfo(); ok {
				v = bi.Main.Version
				for _, dep := range bi.Deps {
					if dep.Path == "github.com/plykit/ply" {
						v = dep.Version
					}
				}
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ply", v)
			return nil
		},
	}
}

// load reads a config file and builds its host.
func (a *app) load(path string, extra ...ply.Option) (*ply.Host, *config.Host, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	cfg, loadErr := config.Load(path, data, a.catalog, a.server)
	if cfg == nil {
		return nil, nil, loadErr
	}
	opts := append(append(append([]ply.Option(nil), cfg.Options...), a.hostOpts...), extra...)
	h, err := ply.New(cfg.Plugins, opts...)
	if err != nil {
		return nil, nil, errors.Join(loadErr, err)
	}
	if loadErr != nil { // report the plugins' problems with the file's
		if _, planErr := h.Plan(); planErr != nil {
			loadErr = errors.Join(loadErr, planErr)
		}
		return nil, nil, loadErr
	}
	return h, cfg, nil
}
