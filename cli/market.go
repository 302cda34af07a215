package cli

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"aead.dev/minisign"
	"github.com/spf13/cobra"

	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/market"
	"github.com/plykit/ply/market/client"
	"github.com/plykit/ply/market/lock"
	"github.com/plykit/ply/market/registry"
	"github.com/plykit/ply/market/resolve"
	"github.com/plykit/ply/wasm"
)

// The marketplace's commands: ply registry … runs a registry, ply plugin
// … installs from one into ply.lock. ply run itself never contacts a
// registry: it loads what ply.lock pins from the cache (see
// internal/config's lock.go).

const marketEnv = "\n\nEnvironment: PLY_REGISTRY is the registry's URL (default http://127.0.0.1:8765), " +
	"PLY_TOKEN the token for publishing and reviewing, PLY_KEY_PASSWORD the password of a signing key."

func (a *app) registryCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "registry", Short: "Run a plugin registry and manage its accounts"}
	var dir string
	cmd.PersistentFlags().StringVar(&dir, "dir", "registry", "the registry's directory: its database and artifacts")
	var addr string
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Serve the registry's API and pages until SIGINT or SIGTERM",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The registry is a plugin host itself: the registry plugin mounted on
			// the stock HTTP server, with its health endpoints and graceful stop.
			ctx := cmd.Context()
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			// Uploads are bounded by the registry's own limits (16 MiB modules,
			// 64 KiB readmes), checked part by part with clear messages.
			server := httpserver.New(httpserver.Options{Addr: addr, MaxBodyBytes: 17 << 20})
			h, err := ply.New([]ply.Plugin{server, &registryPlugin{cfg: registry.Config{Dir: dir, Logger: logger}}}, ply.WithLogger(logger))
			if err != nil {
				return err
			}
			if err := h.Start(ctx); err != nil {
				return err
			}
			_, _ = fmt.Fprintf(cmd.OutOrStdout(), "registry serving on http://%s\n", server.Addr())
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
			defer cancel()
			return h.Stop(sctx)
		},
	}
	serve.Flags().StringVar(&addr, "addr", "127.0.0.1:8765", "the address to listen on")
	var key string
	publisher := &cobra.Command{
		Use:   "publisher NAME --key KEY",
		Short: "Register a publisher with its minisign public key (a .pub file or its RW… line); print its token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pub, err := readPublicKey(key)
			if err != nil {
				return err
			}
			return addAccount(cmd, dir, func(s *registry.Server) (string, error) { return s.AddPublisher(cmd.Context(), args[0], pub) })
		},
	}
	publisher.Flags().StringVar(&key, "key", "", "the publisher's minisign public key, or its file")
	user := &cobra.Command{
		Use:   "user NAME",
		Short: "Register a user who may review plugins; print its token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return addAccount(cmd, dir, func(s *registry.Server) (string, error) { return s.AddUser(cmd.Context(), args[0]) })
		},
	}
	cmd.AddCommand(serve, publisher, user)
	return cmd
}

// registryPlugin runs a registry in a ply host: Provision opens it and
// mounts it at "/" on the host's HTTP server, Cleanup closes it.
type registryPlugin struct {
	cfg registry.Config
	srv *registry.Server
}

var (
	_ ply.Provisioner = (*registryPlugin)(nil)
	_ ply.Cleaner     = (*registryPlugin)(nil)
)

func (p *registryPlugin) Info() ply.Info {
	return ply.Info{Name: "registry", Version: "0.1.0", Requires: []ply.Dependency{{Name: "httpserver"}},
		Description: "a plugin registry: publish, search, download, reviews"}
}

func (p *registryPlugin) Provision(ctx context.Context, s *ply.Setup) error {
	web, err := ply.Lookup(s, httpserver.Key)
	if err != nil {
		return err
	}
	if p.srv, err = registry.Open(ctx, p.cfg); err != nil {
		return err
	}
	web.Handle("/", p.srv)
	return nil
}

func (p *registryPlugin) Cleanup(context.Context) error {
	if p.srv == nil {
		return nil
	}
	return p.srv.Close()
}

func addAccount(cmd *cobra.Command, dir string, add func(*registry.Server) (string, error)) error {
	srv, err := registry.Open(cmd.Context(), registry.Config{Dir: dir})
	if err != nil {
		return err
	}
	token, err := add(srv)
	err = errors.Join(err, srv.Close())
	if err != nil {
		return err
	}
	_, _ = fmt.Fprintln(cmd.OutOrStdout(), token)
	return nil
}

// readPublicKey returns the key in s, or in the file s names.
func readPublicKey(s string) (string, error) {
	if s == "" {
		return "", usageError(errors.New("--key: give the publisher's minisign public key (RW…) or its .pub file"))
	}
	if lock.CheckKey(s) == nil {
		return s, nil
	}
	b, err := os.ReadFile(s) //nolint:gosec // the operator names the key file on purpose
	if err != nil {
		return "", fmt.Errorf("--key %s: neither a minisign public key nor a readable file: %w", s, err)
	}
	lines := strings.Fields(string(b))
	if len(lines) == 0 || lock.CheckKey(lines[len(lines)-1]) != nil {
		return "", fmt.Errorf("--key %s: not a minisign public key file", s)
	}
	return lines[len(lines)-1], nil
}

// pluginFlags are the flags the ply plugin commands share.
type pluginFlags struct {
	lockPath, cacheDir, registryURL, token string
}

func (f *pluginFlags) client() *client.Client {
	return &client.Client{URL: f.registryURL, Token: f.token}
}

func (f *pluginFlags) cache() lock.Cache {
	if f.cacheDir != "" {
		return lock.Cache{Dir: f.cacheDir}
	}
	return lock.DefaultCache()
}

// readLock reads the lockfile, or returns an empty one when there is none.
func (f *pluginFlags) readLock() (*lock.Lock, error) {
	l, err := lock.Read(f.lockPath)
	if errors.Is(err, os.ErrNotExist) {
		return &lock.Lock{Version: lock.FormatVersion}, nil
	}
	return l, err
}

// changeLock applies change to the lockfile, writes it back and prints
// what changed. A missing lockfile starts empty when missingOK (install),
// else it is an error; nothing is written when change fails.
func (f *pluginFlags) changeLock(cmd *cobra.Command, missingOK bool, change func(*lock.Lock) ([]client.Change, error)) error {
	read := lock.Read
	if missingOK {
		read = func(string) (*lock.Lock, error) { return f.readLock() }
	}
	l, err := read(f.lockPath)
	if err != nil {
		return err
	}
	cs, err := change(l)
	if err != nil {
		return err
	}
	if err := lock.Write(f.lockPath, l); err != nil {
		return err
	}
	printChanges(cmd.OutOrStdout(), cs, f.lockPath)
	return nil
}

func printChanges(w io.Writer, cs []client.Change, lockPath string) {
	if len(cs) == 0 {
		_, _ = fmt.Fprintln(w, "nothing changed")
		return
	}
	for _, c := range cs {
		_, _ = fmt.Fprintln(w, c)
	}
	_, _ = fmt.Fprintln(w, "wrote", lockPath)
}

func (a *app) pluginCmd() *cobra.Command {
	f := &pluginFlags{}
	cmd := &cobra.Command{
		Use:   "plugin",
		Short: "Find, install, update, remove, verify, publish and review marketplace plugins (ply.lock)",
		Long: "plugin works with a registry and the host's lockfile, ply.lock: install resolves a consistent set of " +
			"versions, checks every artifact's hash and publisher signature, fills the local cache and writes " +
			"ply.lock; ply run then loads those plugins from the cache, verified, and never contacts a registry. " +
			"List a locked plugin in ply.yaml with runtime: wasm and no path." + marketEnv,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.lockPath, "lock", lock.Name, "the lockfile")
	pf.StringVar(&f.cacheDir, "cache", "", "the artifact cache (default: the user's cache directory, ply/artifacts)")
	pf.StringVar(&f.registryURL, "registry", cmp.Or(os.Getenv("PLY_REGISTRY"), "http://127.0.0.1:8765"), "the registry's URL")
	pf.StringVar(&f.token, "token", os.Getenv("PLY_TOKEN"), "the token for publish, yank and review")
	cmd.AddCommand(f.searchCmd(), f.infoCmd(), f.installCmd(), f.updateCmd(), f.removeCmd(), f.verifyCmd(),
		f.reviewCmd(), f.publishCmd(), f.yankCmd(), keygenCmd(), f.listCmd())
	return cmd
}

func (f *pluginFlags) searchCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "search [WORDS]",
		Short: "Search the registry's plugins by name, description and readme",
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := f.client().Search(cmd.Context(), strings.Join(args, " "))
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			_, _ = fmt.Fprintln(tw, "NAME\tLATEST\tRATING\tPUBLISHER\tDESCRIPTION")
			for _, s := range res {
				_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Name, s.Latest, rating(s.Rating), s.Publisher, s.Description)
			}
			return tw.Flush()
		},
	}
}

func rating(r market.Rating) string {
	if r.Count == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f (%d)", r.Average, r.Count)
}

func (f *pluginFlags) infoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "info NAME",
		Short: "Show a plugin's versions, requirements, capabilities and reviews",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := f.client().Plugin(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			_, _ = fmt.Fprintf(w, "%s %s — %s\npublisher %s, key %s\nrating %s\nversions:\n", p.Name, p.Latest, p.Description, p.Publisher, p.Key, rating(p.Rating))
			for _, v := range p.Versions {
				var reqs []string
				for _, d := range v.Requires {
					reqs = append(reqs, strings.TrimSpace(d.Name+" "+d.Constraint))
				}
				yanked := ""
				if v.Yanked {
					yanked = " (yanked)"
				}
				_, _ = fmt.Fprintf(w, "  %s%s  abi %d  sha256 %s  requires [%s]  grants [%s]\n", v.Version, yanked, v.ABI, v.SHA256,
					strings.Join(reqs, ", "), strings.Join(v.Capabilities, ", "))
			}
			for _, r := range p.Reviews {
				_, _ = fmt.Fprintf(w, "review by %s of %s: %d/5 %s\n", r.User, r.Version, r.Rating, r.Text)
			}
			return nil
		},
	}
}

// requirements parses NAME or NAME@CONSTRAINT arguments.
func requirements(args []string) []resolve.Requirement {
	out := make([]resolve.Requirement, 0, len(args))
	for _, a := range args {
		n, c, _ := strings.Cut(a, "@")
		out = append(out, resolve.Requirement{Name: n, Constraint: c})
	}
	return out
}

func (f *pluginFlags) installCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "install NAME[@CONSTRAINT]...",
		Short: "Resolve, download, verify and lock plugins and what they require",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.changeLock(cmd, true, func(l *lock.Lock) ([]client.Change, error) {
				return f.client().Install(cmd.Context(), l, f.cache(), requirements(args))
			})
		},
	}
}

func (f *pluginFlags) updateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "update [NAME]...",
		Short: "Move locked plugins (all by default) to the newest versions their constraints allow",
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.changeLock(cmd, false, func(l *lock.Lock) ([]client.Change, error) {
				return f.client().Update(cmd.Context(), l, f.cache(), args)
			})
		},
	}
}

func (f *pluginFlags) removeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME...",
		Short: "Remove plugins from the lockfile (refused while a locked plugin requires one)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.changeLock(cmd, false, func(l *lock.Lock) ([]client.Change, error) {
				var cs []client.Change
				for _, n := range args {
					c, err := client.Remove(l, n)
					if err != nil {
						return nil, err
					}
					cs = append(cs, c)
				}
				return cs, nil
			})
		},
	}
}

func (f *pluginFlags) verifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Check every locked artifact in the cache (hash, signature) and the set's constraints, offline",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := lock.Read(f.lockPath)
			if err != nil {
				return err
			}
			if errs := client.Verify(l, f.cache()); len(errs) > 0 {
				return errors.Join(errs...)
			}
			for _, e := range l.Plugins {
				_, _ = fmt.Fprintf(cmd.OutOrStdout(), "ok %s sha256 %s\n", e.ID(), e.SHA256)
			}
			return nil
		},
	}
}

func (f *pluginFlags) reviewCmd() *cobra.Command {
	var text, version string
	cmd := &cobra.Command{
		Use:   "review NAME RATING",
		Short: "Rate a plugin 1 to 5, with --text (needs a token); a second review replaces yours",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := strconv.Atoi(args[1])
			if err != nil || n < 1 || n > 5 {
				return usageError(fmt.Errorf("review: rating %q: give 1 to 5", args[1]))
			}
			return f.client().Review(cmd.Context(), args[0], market.Review{Rating: n, Text: text, Version: version})
		},
	}
	cmd.Flags().StringVar(&text, "text", "", "the review's text")
	cmd.Flags().StringVar(&version, "version", "", "the version reviewed (default: the latest)")
	return cmd
}

func (f *pluginFlags) publishCmd() *cobra.Command {
	var keyPath, readmePath string
	cmd := &cobra.Command{
		Use:   "publish MODULE --key SECRET.key",
		Short: "Sign a wasm plugin module with your minisign key and publish it (needs a publisher token)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			module, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			priv, err := readPrivateKey(keyPath)
			if err != nil {
				return err
			}
			m, _, err := wasm.Inspect(cmd.Context(), args[0], module, "")
			if err != nil {
				return err
			}
			var readme []byte
			if readmePath != "" {
				if readme, err = os.ReadFile(readmePath); err != nil { //nolint:gosec // G304: the publisher names the readme on purpose
					return err
				}
			}
			sig := lock.Sign(priv, m.Name, m.Version, module)
			res, err := f.client().Publish(cmd.Context(), module, []byte(sig), readme)
			if err != nil {
				return err
			}
			_, _ = fmt.Fprintf(cmd.OutOrStdout(), "published %s@%s sha256 %s\n", res.Name, res.Version, res.SHA256)
			return nil
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "ply.key", "your minisign secret key (ply plugin keygen makes one)")
	cmd.Flags().StringVar(&readmePath, "readme", "", "a readme for the plugin's page (Markdown, shown as text)")
	return cmd
}

// readPrivateKey reads a minisign secret key file, decrypting it with
// PLY_KEY_PASSWORD when it is encrypted.
func readPrivateKey(path string) (minisign.PrivateKey, error) {
	b, err := os.ReadFile(path) //nolint:gosec // the publisher names the key file on purpose
	if err != nil {
		return minisign.PrivateKey{}, err
	}
	if minisign.IsEncrypted(b) {
		k, err := minisign.DecryptKey(os.Getenv("PLY_KEY_PASSWORD"), b)
		if err != nil {
			return k, fmt.Errorf("%s: %w (set PLY_KEY_PASSWORD)", path, err)
		}
		return k, nil
	}
	var k minisign.PrivateKey
	if err := k.UnmarshalText(b); err != nil {
		return k, fmt.Errorf("%s: not a minisign secret key: %w", path, err)
	}
	return k, nil
}

func (f *pluginFlags) yankCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "yank NAME VERSION",
		Short: "Yank a version you published: kept for the lockfiles that pin it, never picked again",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.client().Yank(cmd.Context(), args[0], args[1])
		},
	}
}

func keygenCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Make a minisign key pair for publishing: OUT.pub and OUT.key (encrypted with PLY_KEY_PASSWORD when set)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pub, priv, err := minisign.GenerateKey(rand.Reader)
			if err != nil {
				return err
			}
			var secret []byte
			if pw := os.Getenv("PLY_KEY_PASSWORD"); pw != "" {
				secret, err = minisign.EncryptKey(pw, priv)
			} else {
				secret, err = priv.MarshalText()
			}
			if err != nil {
				return err
			}
			pubText := fmt.Sprintf("untrusted comment: minisign public key %016X\n%s\n", pub.ID(), pub)
			if err := os.WriteFile(out+".pub", []byte(pubText), 0o644); err != nil { //nolint:gosec // a public key is public
				return err
			}
			if err := os.WriteFile(out+".key", append(secret, '\n'), 0o600); err != nil { //nolint:gosec // G703: the user names the key file on purpose
				return err
			}
			_, _ = fmt.Fprintf(cmd.OutOrStdout(), "wrote %s.pub (register it: ply registry publisher NAME --key %s.pub) and %s.key (keep it secret)\n", out, out, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "ply", "the files' name, without .pub and .key")
	return cmd
}
