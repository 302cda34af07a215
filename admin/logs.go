package admin

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Logs is a [slog.Handler] that keeps the last lines a host logs, for the
// logs page, and passes every record on to the handler it wraps. Create it
// with [NewLogs] and build the host's logger on it. It is safe for
// concurrent use; a record costs a clone and a lock, not a format: lines
// are formatted when the page is read.
type Logs struct {
	next   slog.Handler
	attrs  []slog.Attr // from WithAttrs, flattened with their groups
	group  string      // the WithGroup prefix, "a.b."
	plugin string      // the "plugin" attribute given to WithAttrs
	buf    *logBuf
}

type logBuf struct {
	mu    sync.Mutex
	lines []logLine
	next  int
	full  bool
}

type logLine struct {
	rec    slog.Record
	attrs  []slog.Attr
	group  string
	plugin string
}

// Line is one log line as the logs page shows it.
type Line struct {
	Time    time.Time `json:"time"`
	Level   string    `json:"level"`
	Plugin  string    `json:"plugin,omitempty"` // the plugin whose logger wrote it
	Message string    `json:"message"`
	Attrs   string    `json:"attrs,omitempty"` // key=value ...
}

// NewLogs returns a handler that keeps the last keep records (1000 when
// keep <= 0) and passes every record to next.
func NewLogs(next slog.Handler, keep int) *Logs {
	if keep <= 0 {
		keep = 1000
	}
	return &Logs{next: next, buf: &logBuf{lines: make([]logLine, keep)}}
}

// Enabled reports whether the wrapped handler handles level.
func (l *Logs) Enabled(ctx context.Context, level slog.Level) bool { return l.next.Enabled(ctx, level) }

// Handle keeps r and passes it on.
func (l *Logs) Handle(ctx context.Context, r slog.Record) error {
	b := l.buf
	b.mu.Lock()
	b.lines[b.next] = logLine{rec: r.Clone(), attrs: l.attrs, group: l.group, plugin: l.plugin}
	b.next++
	if b.next == len(b.lines) {
		b.next, b.full = 0, true
	}
	b.mu.Unlock()
	return l.next.Handle(ctx, r)
}

// WithAttrs returns a handler whose records carry attrs; a "plugin"
// attribute (as the host gives each plugin's logger) tags the lines.
func (l *Logs) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *l
	c.next = l.next.WithAttrs(attrs)
	c.attrs = append(append([]slog.Attr(nil), l.attrs...), prefixed(l.group, attrs)...)
	for _, a := range attrs {
		if a.Key == "plugin" && l.group == "" {
			c.plugin = a.Value.String()
		}
	}
	return &c
}

// WithGroup returns a handler whose further attributes are in group name.
func (l *Logs) WithGroup(name string) slog.Handler {
	if name == "" {
		return l
	}
	c := *l
	c.next = l.next.WithGroup(name)
	c.group = l.group + name + "."
	return &c
}

func prefixed(group string, attrs []slog.Attr) []slog.Attr {
	if group == "" {
		return attrs
	}
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		out[i] = slog.Attr{Key: group + a.Key, Value: a.Value}
	}
	return out
}

// Lines returns up to limit of the last lines, oldest first, of the
// plugin named plugin (all when plugin is ""; "host" for the lines of no
// plugin).
func (l *Logs) Lines(plugin string, limit int) []Line {
	b := l.buf
	b.mu.Lock()
	kept := make([]logLine, 0, len(b.lines))
	if b.full {
		kept = append(kept, b.lines[b.next:]...)
	}
	kept = append(kept, b.lines[:b.next]...)
	b.mu.Unlock()
	var out []Line
	for i := len(kept) - 1; i >= 0 && len(out) < limit; i-- {
		ll := kept[i]
		switch {
		case plugin == "":
		case plugin == "host" && ll.plugin == "":
		case ll.plugin != plugin:
			continue
		}
		out = append(out, ll.line())
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func (ll logLine) line() Line {
	var b strings.Builder
	write := func(k string, v slog.Value) {
		if k == "plugin" {
			return
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k + "=" + v.Resolve().String())
	}
	for _, a := range ll.attrs {
		write(a.Key, a.Value)
	}
	ll.rec.Attrs(func(a slog.Attr) bool {
		write(ll.group+a.Key, a.Value)
		return true
	})
	return Line{Time: ll.rec.Time, Level: ll.rec.Level.String(), Plugin: ll.plugin, Message: ll.rec.Message, Attrs: b.String()}
}
