package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"strings"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
)

func (a *app) runCmd() *cobra.Command {
	var quietFlag bool
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "Start the host FILE describes; stop it on SIGINT or SIGTERM",
		Long: "run checks FILE as validate does, then starts the host it describes and serves until " +
			"SIGINT or SIGTERM, when it stops the plugins gracefully. It wires OpenTelemetry: the metrics " +
			"plugin serves Prometheus metrics on its path, and the spans of the tracing plugin are written " +
			"to standard output as JSON." + envHelp,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			level := slog.LevelInfo
			if quietFlag {
				level = slog.LevelWarn
			}
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
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
			h, plan, _, err := ra.load(args[0], ply.WithLogger(logger), ply.WithObserver(func(s ply.Step) {
				_ = bar.Add(1)
				bar.Describe(s.Op + " " + s.Plugin)
			}))
			if err != nil {
				return err
			}
			if err := h.Start(ctx); err != nil {
				_ = bar.Finish()
				return err
			}
			_ = bar.Finish()
			summary(cmd.OutOrStdout(), plan, h)
			<-ctx.Done()
			_, _ = fmt.Fprintln(cmd.OutOrStdout(), "stopping")
			return h.Stop(context.WithoutCancel(ctx))
		},
	}
	cmd.Flags().BoolVarP(&quietFlag, "quiet", "q", false, "log warnings and errors only")
	return cmd
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
