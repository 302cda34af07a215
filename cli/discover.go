package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/plykit/ply/internal/config"
	"github.com/plykit/ply/internal/options"
	"github.com/plykit/ply/market/discover"
	"github.com/plykit/ply/market/lock"
)

// sourceDirs returns the directories of the file's dir sources, which ply
// run --watch watches for modules dropped in.
func (l *live) sourceDirs() []string {
	var dirs []string
	if l.cfg == nil {
		return nil
	}
	for _, s := range l.cfg.File.Sources {
		if s.Dir != "" {
			dirs = append(dirs, config.Resolve(l.path, s.Dir))
		}
	}
	return dirs
}

// inSource reports whether path is a module in a dir source.
func (l *live) inSource(path string) bool {
	return strings.HasSuffix(path, ".wasm") && !strings.HasPrefix(filepath.Base(path), ".") &&
		slices.Contains(l.sourceDirs(), filepath.Dir(path))
}

func (f *pluginFlags) listCmd() *cobra.Command {
	var available bool
	var configPath string
	var dirs []string
	cmd := &cobra.Command{
		Use:   "list [--available [--config FILE | --dir DIR...]]",
		Short: "List the locked plugins; with --available, every plugin the sources offer, merged",
		Long: "list prints the plugins the lockfile pins. With --available it asks every source — in the order of " +
			"trust FILE's sources list (dirs, registries, caches), or else the --dir directories, the registry and the " +
			"cache — and prints one line per name and version, newest first, with the sources that offer it, most " +
			"trusted first.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			if !available {
				l, err := lock.Read(f.lockPath)
				if err != nil {
					return err
				}
				_, _ = fmt.Fprintln(w, "NAME\tVERSION\tSHA256\tSOURCE")
				for _, e := range l.Plugins {
					_, _ = fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.Name, e.Version, e.SHA256[:12], e.Source)
				}
				return w.Flush()
			}
			sources, err := f.sources(configPath, dirs)
			if err != nil {
				return err
			}
			found, errs := discover.Scan(cmd.Context(), sources, "", nil)
			_, _ = fmt.Fprintln(w, "NAME\tVERSION\tABI\tFROM")
			for _, a := range discover.Merge(sources, found) {
				from := make([]string, len(a.From))
				for i, s := range a.From {
					from[i] = s.String()
				}
				v := a.Version
				if a.Yanked {
					v += " (yanked)"
				}
				_, _ = fmt.Fprintf(w, "%s\t%s\t%d\t%s\n", a.Name, v, a.ABI, strings.Join(from, ", "))
			}
			if err := w.Flush(); err != nil {
				return err
			}
			for _, err := range errs {
				_, _ = fmt.Fprintln(cmd.ErrOrStderr(), "ply: warning:", err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&available, "available", false, "list what the sources offer, not the lockfile")
	cmd.Flags().StringVar(&configPath, "config", "", "take the sources, in order of trust, from this host file")
	cmd.Flags().StringArrayVar(&dirs, "dir", nil, "a directory of wasm modules to list (repeatable; without --config)")
	return cmd
}

// sources returns the sources in order of trust: the host file's, or the
// --dir directories, then the registry, then the cache.
func (f *pluginFlags) sources(configPath string, dirs []string) ([]discover.Source, error) {
	if configPath == "" {
		var out []discover.Source
		for _, d := range dirs {
			out = append(out, discover.Source{Dir: d})
		}
		return append(out, discover.Source{Registry: f.registryURL}, discover.Source{Cache: f.cache().Dir}), nil
	}
	data, err := config.ReadFile(configPath)
	if err != nil {
		return nil, err
	}
	var file config.File
	if err := decodeFile(configPath, data, &file); err != nil {
		return nil, err
	}
	out := make([]discover.Source, 0, len(file.Sources))
	for _, s := range file.Sources {
		switch {
		case s.Dir != "":
			s.Dir = config.Resolve(configPath, s.Dir)
		case s.Cache != "":
			s.Cache = config.Resolve(configPath, s.Cache)
		}
		out = append(out, s)
	}
	return out, nil
}

// decodeFile decodes a host file's settings without building its plugins.
func decodeFile(path string, data []byte, f *config.File) error {
	problems := options.Load(options.Source{File: path, Data: data, Env: os.LookupEnv}, f)
	errs := make([]error, len(problems))
	for i, p := range problems {
		errs[i] = p
	}
	return errors.Join(errs...)
}
