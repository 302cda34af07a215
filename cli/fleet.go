package cli

// The fleet: ply run --fleet takes the host's configuration from a
// JetStream key-value bucket and reloads on every revision; ply config
// push and status write and read that bucket.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/plykit/ply"
	"github.com/plykit/ply/internal/config"
	"github.com/plykit/ply/internal/fleet"
)

// reportTimeout bounds the write of a host's status.
const reportTimeout = 5 * time.Second

// maxReportedError bounds the error a status carries.
const maxReportedError = 4 << 10

// fleetFlags are the flags that name a fleet's bucket.
type fleetFlags struct {
	urls      string
	namespace string
	replicas  int
	host      string // ply run only
}

func (ff *fleetFlags) register(cmd *cobra.Command, run bool) {
	cmd.Flags().StringVar(&ff.urls, "fleet", "", "NATS servers of the fleet, comma separated (nats://host:4222,...)"+
		map[bool]string{true: ": take the configuration from the fleet's bucket and reload on every push", false: ""}[run])
	cmd.Flags().StringVar(&ff.namespace, "fleet-namespace", fleet.Namespace, "the fleet's key-value namespace (bucket ply_kv_<namespace>)")
	cmd.Flags().IntVar(&ff.replicas, "fleet-replicas", 1, "replicas of the fleet's bucket when it is created (1, 3 or 5); give every host and pusher the same")
	if run {
		cmd.Flags().StringVar(&ff.host, "host-id", "", "this host's id in the fleet's statuses (default: the host name)")
	}
}

// open connects to the fleet and opens its bucket; nil, nil without
// --fleet.
func (ff *fleetFlags) open(ctx context.Context, logger *slog.Logger) (*fleetHost, error) {
	if ff.urls == "" {
		return nil, nil
	}
	id := ff.host
	if id == "" {
		name, err := os.Hostname()
		if err != nil {
			return nil, usageError(fmt.Errorf("run: no host name (%w): give --host-id", err))
		}
		id = regexp.MustCompile(`[^A-Za-z0-9_=-]`).ReplaceAllString(name, "_")
	}
	if err := fleet.CheckHost(id); err != nil {
		return nil, usageError(fmt.Errorf("run: --host-id: %w", err))
	}
	nc, f, err := ff.connect(ctx, logger)
	if err != nil {
		return nil, err
	}
	return &fleetHost{f: f, nc: nc, id: id, logger: logger, rep: newReporter(f, logger)}, nil
}

// connect connects to the fleet's servers, retrying while ctx lasts, and
// opens the bucket.
func (ff *fleetFlags) connect(ctx context.Context, logger *slog.Logger) (*nats.Conn, *fleet.Fleet, error) {
	if !slices.Contains([]int{1, 3, 5}, ff.replicas) {
		return nil, nil, usageError(fmt.Errorf("--fleet-replicas %d: want 1, 3 or 5", ff.replicas))
	}
	shown := redactURLs(ff.urls)
	nc, err := backoff.Retry(ctx, func() (*nats.Conn, error) {
		nc, err := nats.Connect(ff.urls, nats.Name("ply-fleet"), nats.MaxReconnects(-1),
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
				if err != nil {
					logger.Warn("fleet: disconnected", "err", err)
				}
			}),
			nats.ReconnectHandler(func(*nats.Conn) { logger.Info("fleet: reconnected") }))
		if err != nil {
			logger.Warn("fleet: connect failed, retrying", "servers", shown, "err", err)
		}
		return nc, err
	}, backoff.WithMaxElapsedTime(30*time.Second))
	if err != nil {
		return nil, nil, fmt.Errorf("fleet: connect %s: %w", shown, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("fleet: %w", err)
	}
	// A cluster electing leaders answers nothing for a while: not an error.
	f, err := backoff.Retry(ctx, func() (*fleet.Fleet, error) {
		return fleet.Open(ctx, js, ff.namespace, ff.replicas)
	}, backoff.WithMaxElapsedTime(30*time.Second))
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("fleet: %w", err)
	}
	return nc, f, nil
}

// redactURLs hides the passwords and tokens of a list of server URLs.
func redactURLs(urls string) string {
	parts := strings.Split(urls, ",")
	for i, u := range parts {
		scheme, rest, ok := strings.Cut(u, "://")
		if !ok {
			scheme, rest = "", u
		} else {
			scheme += "://"
		}
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			parts[i] = scheme + "xxxxx" + rest[at:]
		}
	}
	return strings.Join(parts, ",")
}

// fleetHost is a host's side of the fleet: the revisions it watches and
// the status it reports. Its methods run on the command's goroutine, as
// live's.
type fleetHost struct {
	f      *fleet.Fleet
	nc     *nats.Conn
	id     string
	logger *slog.Logger

	rep     *reporter
	w       *fleet.Watcher
	serving uint64         // the revision the host serves; 0: its file
	seen    uint64         // the newest revision given, served or refused
	last    fleet.Revision // the newest revision given, for SIGHUP
}

// close stops the watch and closes the connection. nil-safe.
func (fh *fleetHost) close() {
	if fh == nil {
		return
	}
	if fh.w != nil {
		fh.w.Stop()
	}
	fh.rep.stop()
	fh.nc.Close()
}

// revisions is the channel of new revisions; nil (never ready) without a
// fleet.
func (fh *fleetHost) revisions() <-chan fleet.Revision {
	if fh == nil || fh.w == nil {
		return nil
	}
	return fh.w.Revisions()
}

// revision applies rev to l's host; ok false: the watch ended (ctx is
// done).
func (fh *fleetHost) revision(ctx context.Context, l *live, rev fleet.Revision, ok bool) {
	if !ok {
		fh.w.Stop()
		fh.w = nil
		return
	}
	began := time.Now()
	fh.seen, fh.last = rev.Number, rev
	name := fh.f.Name(rev.Number)
	fh.logger.Info("fleet: new revision: reloading", "revision", rev.Number)
	l.mu.Lock() // the admin page reloads too
	rl, err := l.apply(ctx, name, rev.Data)
	l.mu.Unlock()
	served := err == nil || (rl.Generation != 0 && rl.RolledBack == nil) // err: the old one still drains
	fh.report(l.host, rev.Number, served, err, time.Since(began))
}

// again applies the newest revision again (SIGHUP).
func (fh *fleetHost) again(ctx context.Context, l *live) {
	if fh.last.Number == 0 {
		fh.logger.Info("SIGHUP: the fleet has no revision; the host serves its file")
		return
	}
	fh.logger.Info("SIGHUP: applying the fleet's revision again", "revision", fh.last.Number)
	fh.revision(ctx, l, fh.last, true)
}

// report writes the host's status after revision rev was served (or
// refused with err).
func (fh *fleetHost) report(h *ply.Host, rev uint64, served bool, err error, took time.Duration) {
	st := fleet.Status{Host: fh.id, Generation: h.Generation(), Took: took, Time: time.Now().UTC()}
	if served {
		fh.serving = rev
	} else {
		st.Refused = rev
		st.Error = cmp.Or(err, errors.New("refused")).Error()
		if len(st.Error) > maxReportedError {
			st.Error = st.Error[:maxReportedError] + "…"
		}
	}
	st.Revision = fh.serving
	fh.rep.put(st)
}

// reporter writes a host's statuses to the fleet's bucket from a goroutine
// of its own, so that a cluster electing a leader delays no reload: a
// status that cannot be written is tried again, unless a newer one came
// meanwhile, which replaces it. Its methods are safe for concurrent use.
type reporter struct {
	f      *fleet.Fleet
	logger *slog.Logger
	wake   chan struct{} // 1: a status is waiting
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	latest *fleet.Status // the status to write; nil: none
}

func newReporter(f *fleet.Fleet, logger *slog.Logger) *reporter {
	ctx, cancel := context.WithCancel(context.Background())
	r := &reporter{f: f, logger: logger, wake: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	go r.run(ctx)
	return r
}

// put makes st the next status to write, in place of any still waiting.
func (r *reporter) put(st fleet.Status) {
	r.mu.Lock()
	r.latest = &st
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default: // already woken
	}
}

// take returns the waiting status, or nil; again puts st back unless a
// newer one is waiting.
func (r *reporter) take(again *fleet.Status) *fleet.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	if again != nil {
		if r.latest == nil {
			r.latest = again
		}
		return nil
	}
	st := r.latest
	r.latest = nil
	return st
}

func (r *reporter) run(ctx context.Context) {
	defer close(r.done)
	retry := time.NewTimer(0)
	<-retry.C
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-retry.C:
		}
		for st := r.take(nil); st != nil; st = r.take(nil) {
			rctx, cancel := context.WithTimeout(ctx, reportTimeout)
			err := r.f.Report(rctx, *st)
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					r.logger.Warn("fleet: cannot report the host's status; trying again", "err", err)
					r.take(st)
					retry.Reset(500 * time.Millisecond)
				}
				break
			}
			r.logger.Info("fleet: status reported", "revision", st.Revision, "generation", st.Generation, "refused", st.Refused)
		}
	}
}

// stop ends the goroutine and waits for it; a status still waiting is not
// written.
func (r *reporter) stop() {
	r.cancel()
	<-r.done
}

// startFleet starts the host from the fleet's current revision, or from
// the file at path when the fleet has none or its revision does not load
// (reported as refused), then watches the later revisions. Without a fleet
// (fh nil) it is start.
func (a *app) startFleet(ctx context.Context, fh *fleetHost, path string, logger *slog.Logger, own []ply.Option, once ...ply.Option) (*live, *ply.Plan, error) {
	if fh == nil {
		return a.start(ctx, path, logger, own, once...)
	}
	rev, err := current(ctx, fh.f)
	if err != nil && !errors.Is(err, fleet.ErrNoRevision) {
		return nil, nil, fmt.Errorf("fleet: %w", err)
	}
	var (
		l       *live
		plan    *ply.Plan
		refused error
	)
	if err == nil {
		fh.seen, fh.last = rev.Number, rev
		name := fh.f.Name(rev.Number)
		h, p, cfg, err := a.loadData(name, rev.Data, nil, append(slices.Clone(own), once...)...)
		if err == nil {
			if err := h.Register(a.extra...); err != nil { // as start registers them
				return nil, nil, err
			}
			if err := h.Start(ctx); err != nil {
				return nil, nil, err
			}
			fh.serving = rev.Number
			l = &live{app: a, path: path, opts: own, logger: logger, stderr: a.stderr, host: h, plugins: cfg.Plugins, cfg: cfg}
			plan = p
		} else {
			refused = err
			_, _ = fmt.Fprintf(a.stderr, "ply: %s not loaded; starting from %s:\n%v\n", name, path, err) // best effort, as the log
			logger.Error("fleet: the current revision has problems; starting from the file", "revision", rev.Number, "file", path)
		}
	}
	if l == nil {
		if l, plan, err = a.start(ctx, path, logger, own, once...); err != nil {
			return nil, nil, err
		}
	}
	l.fleet = fh
	fh.report(l.host, fh.seen, refused == nil && fh.seen == fh.serving, refused, 0)
	fh.w = fh.f.Watch(ctx, fh.seen, logger)
	return l, plan, nil
}

// current reads the fleet's current revision, for up to 30 s while the
// cluster does not answer (a leader election); an error matching
// [fleet.ErrNoRevision] when nothing was pushed.
func current(ctx context.Context, f *fleet.Fleet) (fleet.Revision, error) {
	return backoff.Retry(ctx, func() (fleet.Revision, error) {
		rev, err := f.Current(ctx)
		if errors.Is(err, fleet.ErrNoRevision) {
			return rev, backoff.Permanent(err)
		}
		return rev, err
	}, backoff.WithMaxElapsedTime(30*time.Second))
}

func (a *app) configCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Push a configuration to a fleet of hosts, and see what each serves",
		Long: "A fleet is hosts started with ply run --fleet URLS: each takes its configuration from the " +
			"fleet's JetStream key-value bucket instead of its FILE (which it serves until something is " +
			"pushed), reloads on every revision pushed, and reports the revision and generation it serves. " +
			"A host that cannot apply a revision keeps serving what it served and reports why.",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return usageError(errors.New("config: give a subcommand: push or status"))
		},
	}
	cmd.AddCommand(a.configPushCmd(), a.configStatusCmd())
	return cmd
}

func (a *app) configPushCmd() *cobra.Command {
	var (
		ff       fleetFlags
		revision uint64
		wait     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "push FILE --fleet URLS",
		Short: "Check FILE as validate does and push it to the fleet as a new revision",
		Long: "push checks FILE as ply validate does (the variables its values name must be set, as on the " +
			"hosts), then writes it as the fleet's next revision, only if the fleet's configuration is still " +
			"at the revision the push is based on: --revision, or else the one current when push read it. A " +
			"push based on a stale revision is refused and writes nothing. With --wait, it then waits until " +
			"every host that reported before has reported on the new revision, and prints their statuses; " +
			"it fails if one refused it or did not answer in time.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ff.urls == "" {
				return usageError(errors.New("config push: --fleet is required"))
			}
			path := args[0]
			data, err := config.ReadFile(path)
			if err != nil {
				return err
			}
			if _, _, _, err := a.loadData(path, data, nil); err != nil {
				return fmt.Errorf("%w\n%s: not pushed", err, path)
			}
			ctx := cmd.Context()
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			nc, f, err := ff.connect(ctx, logger)
			if err != nil {
				return err
			}
			defer nc.Close()
			base := revision
			if !cmd.Flags().Changed("revision") {
				cur, err := current(ctx, f)
				if err != nil && !errors.Is(err, fleet.ErrNoRevision) {
					return err
				}
				base = cur.Number
			}
			var before []fleet.Status
			if wait > 0 {
				if before, err = f.Statuses(ctx); err != nil {
					return err
				}
			}
			rev, err := f.Push(ctx, data, base)
			if err != nil {
				return fmt.Errorf("config push %s: %w", path, err)
			}
			_, _ = fmt.Fprintf(cmd.OutOrStdout(), "pushed %s as revision %d\n", path, rev)
			if wait <= 0 {
				return nil
			}
			return awaitHosts(ctx, cmd.OutOrStdout(), f, rev, before, wait)
		},
	}
	ff.register(cmd, false)
	cmd.Flags().Uint64Var(&revision, "revision", 0, "the revision this push replaces (0: none yet); default: the current one")
	cmd.Flags().DurationVar(&wait, "wait", 0, "wait this long for every host to report on the new revision")
	return cmd
}

// awaitHosts waits until every host of before has reported on revision
// rev, then prints the statuses.
func awaitHosts(ctx context.Context, w io.Writer, f *fleet.Fleet, rev uint64, before []fleet.Status, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond) // a CLI polling a few keys; hosts answer within a second
	defer tick.Stop()
	for {
		all, err := f.Statuses(ctx)
		if err == nil && answered(all, before, rev) {
			printStatuses(w, all)
			var bad []string
			for _, st := range all {
				if st.Refused == rev {
					bad = append(bad, st.Host)
				}
			}
			if len(bad) > 0 {
				return fmt.Errorf("revision %d refused by %s; they serve what they served", rev, strings.Join(bad, ", "))
			}
			return nil
		}
		select {
		case <-ctx.Done():
			if all != nil {
				printStatuses(w, all)
			}
			return fmt.Errorf("not every host reported on revision %d within %v: %w", rev, wait, cmp.Or(err, ctx.Err()))
		case <-tick.C:
		}
	}
}

// answered reports whether every host of before has reported on rev in
// all.
func answered(all, before []fleet.Status, rev uint64) bool {
	for _, b := range before {
		i := slices.IndexFunc(all, func(s fleet.Status) bool { return s.Host == b.Host })
		if i < 0 || (all[i].Revision < rev && all[i].Refused < rev) {
			return false
		}
	}
	return true
}

func (a *app) configStatusCmd() *cobra.Command {
	var ff fleetFlags
	cmd := &cobra.Command{
		Use:   "status --fleet URLS",
		Short: "Print the fleet's current revision and what each host serves",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ff.urls == "" {
				return usageError(errors.New("config status: --fleet is required"))
			}
			ctx := cmd.Context()
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			nc, f, err := ff.connect(ctx, logger)
			if err != nil {
				return err
			}
			defer nc.Close()
			cur, err := f.Current(ctx)
			switch {
			case errors.Is(err, fleet.ErrNoRevision):
				_, _ = fmt.Fprintln(cmd.OutOrStdout(), "revision: none pushed")
			case err != nil:
				return err
			default:
				_, _ = fmt.Fprintf(cmd.OutOrStdout(), "revision: %d, pushed %s\n", cur.Number, cur.Created.UTC().Format(time.RFC3339))
			}
			all, err := f.Statuses(ctx)
			if err != nil {
				return err
			}
			printStatuses(cmd.OutOrStdout(), all)
			return nil
		},
	}
	ff.register(cmd, false)
	return cmd
}

// printStatuses prints one line per host. Best effort, as summary.
func printStatuses(w io.Writer, all []fleet.Status) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "HOST\tREVISION\tGENERATION\tSTATE\tTOOK\tERROR")
	for _, st := range all {
		state := "ok"
		if !st.OK() {
			state = fmt.Sprintf("refused %d", st.Refused)
		}
		msg, _, _ := strings.Cut(st.Error, "\n")
		_, _ = fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%v\t%s\n", st.Host, st.Revision, st.Generation, state, st.Took.Round(time.Millisecond), msg)
	}
	_ = tw.Flush()
}
