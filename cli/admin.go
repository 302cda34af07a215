package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/plykit/ply"
	"github.com/plykit/ply/admin"
	"github.com/plykit/ply/internal/adminwire"
	"github.com/plykit/ply/internal/config"
)

// newAdmin returns ply run's admin page on addr, and the log handler that
// writes into the page as well as to handler. The page reloads from the
// run's file once the run gives it its live host (pageReloader.set).
func newAdmin(addr string, allowRemote bool, handler slog.Handler) (*admin.Plugin, *pageReloader, slog.Handler, error) {
	logs := admin.NewLogs(handler, 1000)
	rl := &pageReloader{}
	page, err := admin.New(admin.Options{Addr: addr, AllowRemote: allowRemote, Logs: logs, Jobs: adminwire.Jobs, Reloader: rl})
	if err != nil {
		return nil, nil, nil, err
	}
	return page, rl, logs, nil
}

// pageReloader is the admin page's way to reload ply run's host: from the
// run's file, as SIGHUP and --watch do.
type pageReloader struct {
	live atomic.Pointer[live] // set once the host started
}

var errNotStarted = errors.New("the host has not started yet")

func (r *pageReloader) set(l *live) { r.live.Store(l) }

// Config returns the run's file as it is on disk.
func (r *pageReloader) Config() (string, []byte, error) {
	l := r.live.Load()
	if l == nil {
		return "", nil, errNotStarted
	}
	data, err := config.ReadFile(l.path)
	return l.path, data, err
}

// Preview checks data as a reload would and compares its plugin entries
// with those the host runs.
func (r *pageReloader) Preview(_ context.Context, data []byte) (admin.Preview, error) {
	l := r.live.Load()
	if l == nil {
		return admin.Preview{}, errNotStarted
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _, cfg, err := l.app.loadData(l.path, data, l.cfg, l.opts...)
	if err != nil {
		return admin.Preview{}, err
	}
	old, _ := config.ReadFile(l.path) // for the diff only: the host runs l.cfg
	pv := admin.Preview{Diff: lineDiff(string(old), string(data))}
	entries := func(ps []config.Plugin) map[string]string {
		out := map[string]string{}
		for _, p := range ps {
			b, _ := json.Marshal(p) // plain values decoded from YAML
			out[p.Name] = string(b)
		}
		return out
	}
	was, now := entries(l.cfg.File.Plugins), entries(cfg.File.Plugins)
	for _, p := range cfg.File.Plugins {
		switch prev, ok := was[p.Name]; {
		case !ok:
			pv.Added = append(pv.Added, p.Name)
		case prev != now[p.Name]:
			pv.Changed = append(pv.Changed, p.Name)
		default:
			pv.Unchanged = append(pv.Unchanged, p.Name)
		}
	}
	for _, p := range l.cfg.File.Plugins {
		if _, ok := now[p.Name]; !ok {
			pv.Removed = append(pv.Removed, p.Name)
		}
	}
	return pv, nil
}

// Apply checks data, writes it to the run's file (so that the file and the
// host agree, and a later --watch or SIGHUP reload keeps it), and reloads
// the host from it. A file with problems is not written.
func (r *pageReloader) Apply(ctx context.Context, data []byte) (ply.Reloaded, error) {
	if _, err := r.Preview(ctx, data); err != nil {
		return ply.Reloaded{}, err
	}
	l := r.live.Load()
	if err := writeFile(l.path, data); err != nil {
		return ply.Reloaded{}, err
	}
	rl, err := l.reload(ctx, false)
	if errors.Is(err, errUnchanged) {
		return rl, nil
	}
	return rl, err
}

// writeFile replaces path with data at once (a new file renamed over it),
// keeping its mode.
func writeFile(path string, data []byte) error {
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = tmp.Write(data)
	err = errors.Join(err, tmp.Chmod(mode), tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name()) // best effort: the error says what failed
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// lineDiff returns the lines of a and b as a diff: " " in both, "-" only
// in a, "+" only in b, by their longest common subsequence. Files over
// 2000 lines are shown whole, old then new.
func lineDiff(a, b string) string {
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	}
	x, y := split(a), split(b)
	var out strings.Builder
	if len(x) > 2000 || len(y) > 2000 {
		for _, s := range x {
			out.WriteString("-" + s + "\n")
		}
		for _, s := range y {
			out.WriteString("+" + s + "\n")
		}
		return out.String()
	}
	// lcs[i][j]: the longest common subsequence of x[i:] and y[j:].
	lcs := make([][]int32, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int32, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			out.WriteString(" " + x[i] + "\n")
			i, j = i+1, j+1
		case j < len(y) && (i == len(x) || lcs[i][j+1] >= lcs[i+1][j]):
			out.WriteString("+" + y[j] + "\n")
			j++
		default:
			out.WriteString("-" + x[i] + "\n")
			i++
		}
	}
	return out.String()
}
