package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/plykit/ply"
	"github.com/plykit/ply/internal/config"
)

// debounce is how long the file must stay unchanged after an event before
// a reload reads it: editors write a file in several steps.
const debounce = 200 * time.Millisecond

// live is the host ply run serves and what reloads it from its file. Its
// methods run on one goroutine, the command's.
type live struct {
	mu     sync.Mutex // serializes reloads: the command's loop's and the admin page's
	app    *app       // the run's catalog
	path   string
	opts   []ply.Option // the command's own options for every generation: logger, drain grace
	logger *slog.Logger
	stderr io.Writer
	host   *ply.Host

	plugins []ply.Plugin // the registrations the host runs, as last given
	cfg     *config.Host // the file the host runs, as loaded: its routes' handlers carry over
	seen    []byte       // the file as last read, loaded or refused
	fleet   *fleetHost   // the fleet whose revisions the host serves; nil: the file alone
	dropped bool         // a module was added to or changed in a dir source since the last reload
}

// reload reads the file again and moves the host to it: the file is
// checked as ply validate checks it, and a file with problems is reported
// with file:line:column and changes nothing. The plugins whose entries
// did not change carry over as the same instances; one whose options
// changed, or whose dependency is replaced, is rebuilt from the catalog;
// the host options are all the file's anew. force reloads a file whose
// contents did not change (SIGHUP: the environment may have).
func (l *live) reload(ctx context.Context, force bool) (ply.Reloaded, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	data, err := config.ReadFile(l.path)
	if err != nil {
		return ply.Reloaded{}, l.refused(err)
	}
	if !force {
		if bytes.Equal(data, l.seen) && !l.modulesChanged() && !l.dropped {
			return ply.Reloaded{}, errUnchanged
		}
		l.dropped = false
		l.logger.Info("the file changed: reloading", "file", l.path)
	}
	l.seen = data
	return l.apply(ctx, l.path, data)
}

// apply moves the host to data, a configuration named name (a file, or a
// fleet's revision), as reload does.
func (l *live) apply(ctx context.Context, name string, data []byte) (ply.Reloaded, error) {
	_, _, cfg, err := l.app.loadData(name, data, l.cfg, l.opts...)
	if err != nil {
		return ply.Reloaded{}, l.refusedAs(name, err)
	}
	running := make(map[string]ply.Plugin, len(l.plugins))
	for _, p := range l.plugins {
		running[p.Info().Name] = p
	}
	plugins := make([]ply.Plugin, len(cfg.Plugins))
	for i, p := range cfg.Plugins {
		plugins[i] = p
		if old, ok := running[p.Info().Name]; ok && old.Info().Version == p.Info().Version && !stale(old) {
			plugins[i] = old // the kernel keeps it if its options did not change, or renews it
		}
	}
	plugins = append(plugins, l.app.extra...) // the same objects: carried over
	renewed := make([]ply.Plugin, len(plugins))
	renew := func(old ply.Plugin) ply.Plugin {
		p := l.renewWasm(ctx, old)
		if newPlugin, ok := l.app.catalog[old.Info().Name]; ok && p == nil {
			p = newPlugin()
		}
		if p == nil {
			return nil
		}
		for i, q := range plugins {
			if same(q, old) {
				renewed[i] = p
			}
		}
		return p
	}
	opts := append(append(append([]ply.Option(nil), cfg.Options...), l.app.hostOpts...), l.opts...)
	rl, err := l.host.Reload(ctx, ply.Change{Plugins: plugins, Options: opts, Renew: renew})
	if rl.Generation != 0 && rl.RolledBack == nil { // the new configuration serves (err: it still drains)
		for i, p := range renewed {
			if p != nil {
				plugins[i] = p
			}
		}
		l.plugins, l.cfg = plugins, cfg
	}
	return rl, err // the host logged it
}

// errUnchanged: the file has the contents last loaded; nothing to do.
var errUnchanged = errors.New("the file did not change")

// refused reports a file that cannot be loaded: the host serves as before.
func (l *live) refused(err error) error { return l.refusedAs(l.path, err) }

// refusedAs reports a configuration named name that cannot be loaded.
func (l *live) refusedAs(name string, err error) error {
	_, _ = fmt.Fprintf(l.stderr, "ply: %s not reloaded; the host serves as before:\n%v\n", name, err) // best effort, as the log
	l.logger.Error("reload refused: the configuration has problems; the host serves as before", "file", name)
	return err
}

// same reports whether a and b are the same plugin object, as the kernel
// compares them: a value that cannot be compared is never the same.
func same(a, b ply.Plugin) bool {
	ta := reflect.TypeOf(a)
	return ta == reflect.TypeOf(b) && ta.Comparable() && a == b
}

// serve reloads the host on SIGHUP and, when watch is set, when the file
// changes, until ctx is done. The watch is on the file's directory, so it
// survives editors that save by renaming a new file over the old one (and
// Kubernetes' ConfigMap volumes, which swap a symlink): any change there is
// debounced, then the file is read and reloaded if its contents changed.
func (l *live) serve(ctx context.Context, watch bool) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var events <-chan fsnotify.Event
	var watchErrs <-chan error
	if watch {
		w, err := fsnotify.NewWatcher()
		if err != nil {
			return fmt.Errorf("watch %s: %w", l.path, err)
		}
		defer func() { _ = w.Close() }() // ends the watcher's goroutine; nothing to flush
		if err := w.Add(filepath.Dir(l.path)); err != nil {
			return fmt.Errorf("watch %s: %w", l.path, err)
		}
		for _, dir := range append(l.moduleDirs(), l.sourceDirs()...) {
			if err := w.Add(dir); err != nil {
				return fmt.Errorf("watch %s: %w", dir, err)
			}
		}
		events, watchErrs = w.Events, w.Errors
		l.logger.Info("watching the file for changes", "file", l.path)
	}
	base := filepath.Base(l.path)
	settle := time.NewTimer(debounce)
	settle.Stop()
	defer settle.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			if l.fleet != nil {
				l.fleet.again(ctx, l)
				continue
			}
			l.logger.Info("SIGHUP: reloading", "file", l.path)
			_, _ = l.reload(ctx, true) // reported by reload and the host
		case rev, ok := <-l.fleet.revisions():
			l.fleet.revision(ctx, l, rev, ok)
		case ev := <-events:
			if name := filepath.Base(ev.Name); name == base || strings.HasPrefix(name, "..") || l.isModule(ev.Name) { // ..data: a ConfigMap's swap
				settle.Reset(debounce)
			} else if l.inSource(ev.Name) { // a module dropped into a dir source (discover.go)
				l.dropped = true
				settle.Reset(debounce)
			}
		case err := <-watchErrs:
			l.logger.Warn("watching the file", "file", l.path, "err", err)
		case <-settle.C:
			_, _ = l.reload(ctx, false) // reported by reload and the host
		}
	}
}
