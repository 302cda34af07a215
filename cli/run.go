package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/plykit/ply"
	"github.com/plykit/ply/admin"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/internal/config"
)

func (a *app) runCmd() *cobra.Command {
	var (
		quietFlag, watchFlag bool
		graceFlag            time.Duration
		adminFlag            string
		adminRemoteFlag      bool
		ff                   fleetFlags
	)
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "Start the host FILE describes; reload it on SIGHUP; stop it on SIGINT or SIGTERM",
		Long: "run checks FILE as validate does, then starts the host it describes and serves until " +
			"SIGINT or SIGTERM, when it stops the plugins gracefully. It wires OpenTelemetry: the metrics " +
			"plugin serves Prometheus metrics on its path, and the spans of the tracing plugin are written " +
			"to standard output as JSON.\n\n" +
			"On SIGHUP, and with --watch whenever FILE changes, it reloads the host from FILE without " +
			"stopping it: FILE is checked as validate checks it (a file with problems is reported and " +
			"changes nothing), the plugins whose entries changed are rebuilt, the others keep running, and " +
			"the listener stays open unless its address changed. Requests in flight finish on the " +
			"configuration they started on, for up to --drain-grace; routes cannot be added or removed " +
			"by a reload.\n\n" +
			"With --fleet, the host takes its configuration from the fleet's bucket instead of FILE (FILE " +
			"serves until a revision is pushed with ply config push, or when the current one does not load), " +
			"reloads on every revision, and reports what it serves (ply config status)." + envHelp,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			if graceFlag < 0 {
				return usageError(fmt.Errorf("run: --drain-grace %v: want 0 (no limit) or more", graceFlag))
			}
			level := slog.LevelInfo
			if quietFlag {
				level = slog.LevelWarn
			}
			var handler slog.Handler = slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level})
			var page *admin.Plugin
			var pageRl *pageReloader
			if adminFlag != "" {
				if page, pageRl, handler, err = newAdmin(adminFlag, adminRemoteFlag, handler); err != nil {
					return usageError(fmt.Errorf("run: --admin: %w", err))
				}
			}
			logger := slog.New(handler)
			bar := progressbar.NewOptions(-1, progressbar.OptionSetWriter(cmd.ErrOrStderr()),
				progressbar.OptionSetDescription("starting"), progressbar.OptionClearOnFinish(), progressbar.OptionSpinnerType(14),
				progressbar.OptionSetVisibility(terminal(cmd.ErrOrStderr()))) // no spinner frames in logs
			tel, err := newTelemetry(cmd.OutOrStdout())
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			defer func() { err = errors.Join(err, tel.shutdown(context.WithoutCancel(ctx))) }()
			tel.install()
			ra := *a // this run's catalog: the stock metrics and tracing plugins get the SDK
			ra.catalog = maps.Clone(a.catalog)
			for name, newPlugin := range map[string]func() ply.Plugin{"metrics": tel.newMetrics, "tracing": tel.newTracing} {
				if !a.replaced[name] {
					ra.catalog[name] = newPlugin
				}
			}
			own := []ply.Option{ply.WithLogger(logger)} // every generation's, beside the file's
			if graceFlag > 0 {
				own = append(own, ply.WithDrainGrace(graceFlag))
			}
			if page != nil { // beside the file's plugins in every generation: a reload carries it over
				ra.extra = []ply.Plugin{page}
			}
			if watchFlag && ff.urls != "" {
				return usageError(errors.New("run: --watch and --fleet: the host follows the fleet's revisions, not FILE; give one"))
			}
			fh, err := ff.open(ctx, logger)
			if err != nil {
				return err
			}
			defer fh.close()
			l, plan, err := ra.startFleet(ctx, fh, args[0], logger, own, ply.WithObserver(func(s ply.Step) {
				_ = bar.Add(1)
				bar.Describe(s.Op + " " + s.Plugin)
			}))
			_ = bar.Finish()
			if err != nil {
				return err
			}
			l.stderr = cmd.ErrOrStderr()
			summary(cmd.OutOrStdout(), plan, l.host)
			if page != nil {
				pageRl.set(l)
				// Required: the host did not start unless the page serves.
				_, _ = fmt.Fprintf(cmd.OutOrStdout(), "admin page: %s\n", page.LoginURL()) // it carries the token: for the operator's eyes
			}
			serveErr := l.serve(ctx, watchFlag)
			_, _ = fmt.Fprintln(cmd.OutOrStdout(), "stopping")
			return errors.Join(serveErr, l.host.Stop(context.WithoutCancel(ctx)))
		},
	}
	cmd.Flags().BoolVarP(&quietFlag, "quiet", "q", false, "log warnings and errors only")
	cmd.Flags().BoolVarP(&watchFlag, "watch", "w", false, "reload the host when FILE changes (debounced; SIGHUP always reloads)")
	cmd.Flags().StringVar(&adminFlag, "admin", "", "serve the admin page on this address (e.g. 127.0.0.1:9091); its login URL, with the token ($"+admin.TokenEnv+" or a random one), is printed")
	cmd.Flags().BoolVar(&adminRemoteFlag, "admin-allow-remote", false, "allow --admin on an address other machines reach")
	ff.register(cmd, true)
	cmd.Flags().DurationVar(&graceFlag, "drain-grace", 30*time.Second,
		"after a reload, cancel the requests still running on the old configuration after this long; 0 waits for them")
	return cmd
}

// start loads the file at path and starts its host, with own, the
// command's options for every generation, and once, the options for the
// start only.
func (a *app) start(ctx context.Context, path string, logger *slog.Logger, own []ply.Option, once ...ply.Option) (*live, *ply.Plan, error) {
	data, err := config.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	h, plan, cfg, err := a.loadData(path, data, nil, append(slices.Clone(own), once...)...)
	if err != nil {
		return nil, nil, err
	}
	if err := h.Register(a.extra...); err != nil {
		return nil, nil, err
	}
	if err := h.Start(ctx); err != nil {
		return nil, nil, err
	}
	return &live{app: a, path: path, opts: own, logger: logger, stderr: a.stderr, host: h, plugins: cfg.Plugins, cfg: cfg, seen: data}, plan, nil
}

// summary prints the plugins in chain order, the routes, the URL and a few
// curl lines to try. It is best effort: a failed write is not an error of
// the command.
func summary(w io.Writer, plan *ply.Plan, h *ply.Host) {
	_, _ = fmt.Fprintln(w, "plugins (chain order, outermost first):")
	for _, in := range plan.Order(ply.ChainOrder) {
		_, _ = fmt.Fprintf(w, "  %-24s %s\n", in.ID(), in.Description)
	}
	srv, err := ply.Lookup(h, httpserver.Key)
	if err != nil || srv.Addr() == nil {
		return
	}
	url := "http://" + srv.Addr().String()
	_, _ = fmt.Fprintln(w, "routes:")
	for _, r := range srv.Routes() {
		_, _ = fmt.Fprintln(w, "  "+r)
	}
	_, _ = fmt.Fprintf(w, "serving on %s\n", url)
	_, _ = fmt.Fprintln(w, "try:")
	_, _ = fmt.Fprintf(w, "  curl -i %s/healthz\n", url)
	for _, r := range srv.Routes() {
		method, path, _ := strings.Cut(r, " ")
		if method == "GET" && !strings.Contains(path, "{") {
			_, _ = fmt.Fprintf(w, "  curl -i %s%s\n", url, path)
		}
	}
}

// terminal reports whether w is a terminal, where a spinner makes sense.
func terminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
