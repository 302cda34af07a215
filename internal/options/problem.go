package options

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/plykit/ply/option"
)

// clone returns a copy of p, for a caller that fills in its owner.
func clone(p *option.Error) *option.Error {
	c := *p
	return &c
}

// segment is one step of a path: a key in a mapping, or an index in a list.
type segment struct {
	key   string
	index int // >= 0 for a list index; -1 for a key
}

func keySeg(k string) segment { return segment{key: k, index: -1} }
func indexSeg(i int) segment  { return segment{index: i} }

func (s segment) isIndex() bool { return s.index >= 0 }

// formatPath renders segments as an option.Error field: `limits.burst`, `servers[2].url`,
// `tags["a.b"]` (keys that are not plain words are quoted).
func formatPath(segs []segment) string {
	var b strings.Builder
	for _, s := range segs {
		switch {
		case s.isIndex():
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
		case plainKey(s.key):
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.key)
		default:
			b.WriteByte('[')
			b.WriteString(strconv.Quote(s.key))
			b.WriteByte(']')
		}
	}
	return b.String()
}

// joinPath appends one segment to a path built by formatPath.
func joinPath(path string, s segment) string {
	p := formatPath([]segment{s})
	if path == "" || p[0] == '[' {
		return path + p
	}
	return path + "." + p
}

func plainKey(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' && r != '-' {
			return false
		}
	}
	return true
}

// parsePath is the inverse of formatPath. It also accepts paths written by hand in
// Validate methods, such as "servers.2.url"; ok is false for a path it cannot read.
func parsePath(p string) (segs []segment, ok bool) {
	for i := 0; i < len(p); {
		switch p[i] {
		case '.':
			if i == 0 || i == len(p)-1 {
				return nil, false
			}
			i++
		case '[':
			rest := p[i+1:]
			if strings.HasPrefix(rest, `"`) {
				q, err := strconv.QuotedPrefix(rest)
				if err != nil || !strings.HasPrefix(rest[len(q):], "]") {
					return nil, false
				}
				k, _ := strconv.Unquote(q)
				segs = append(segs, keySeg(k))
				i += 1 + len(q) + 1
				continue
			}
			end := strings.IndexByte(rest, ']')
			n, err := strconv.Atoi(rest[:max(end, 0)])
			if end < 0 || err != nil || n < 0 {
				return nil, false
			}
			segs = append(segs, indexSeg(n))
			i += 1 + end + 1
		default:
			end := strings.IndexAny(p[i:], ".[")
			if end < 0 {
				end = len(p) - i
			}
			segs = append(segs, keySeg(p[i:i+end]))
			i += end
		}
	}
	return segs, true
}

// sortProblems orders problems as they appear in the file: by position,
// then (for problems at one place, or without a position) by path, list
// indexes in numeric order, then message.
func sortProblems(ps []*option.Error) {
	slices.SortStableFunc(ps, func(a, b *option.Error) int {
		return cmp.Or(
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Column, b.Column),
			comparePaths(a.Field, b.Field),
			cmp.Compare(a.Problem, b.Problem),
		)
	})
}

func comparePaths(a, b string) int {
	sa, okA := parsePath(a)
	sb, okB := parsePath(b)
	if !okA || !okB {
		return cmp.Compare(a, b)
	}
	for i := range min(len(sa), len(sb)) {
		x, y := sa[i], sb[i]
		var c int
		switch {
		case x.isIndex() && y.isIndex():
			c = cmp.Compare(x.index, y.index)
		case x.isIndex() != y.isIndex():
			c = cmp.Compare(formatPath(sa[i:i+1]), formatPath(sb[i:i+1]))
		default:
			c = cmp.Compare(x.key, y.key)
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(len(sa), len(sb))
}
