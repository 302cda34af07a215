package options

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPaths(t *testing.T) {
	for _, tt := range []struct {
		name string
		segs []segment
		path string
	}{
		{name: "root", segs: nil, path: ""},
		{name: "key", segs: []segment{keySeg("ttl")}, path: "ttl"},
		{name: "nested", segs: []segment{keySeg("limits"), keySeg("burst")}, path: "limits.burst"},
		{name: "index", segs: []segment{keySeg("servers"), indexSeg(2), keySeg("url")}, path: "servers[2].url"},
		{name: "list root", segs: []segment{indexSeg(0), indexSeg(1)}, path: "[0][1]"},
		{name: "odd keys", segs: []segment{keySeg("tags"), keySeg("a.b"), keySeg(`q"[`), keySeg("")}, path: `tags["a.b"]["q\"["][""]`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatPath(tt.segs); got != tt.path {
				t.Errorf("formatPath(%v) = %q, want %q", tt.segs, got, tt.path)
			}
			got, ok := parsePath(tt.path)
			if !ok {
				t.Fatalf("parsePath(%q) failed", tt.path)
			}
			if diff := cmp.Diff(tt.segs, got, cmp.AllowUnexported(segment{})); diff != "" {
				t.Errorf("parsePath(%q) (-want +got):\n%s", tt.path, diff)
			}
		})
	}
}

func TestParsePathByHand(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []segment
		ok   bool
	}{
		{in: "servers.2.url", want: []segment{keySeg("servers"), keySeg("2"), keySeg("url")}, ok: true},
		{in: ".a", ok: false},
		{in: "a.", ok: false},
		{in: "a[x]", ok: false},
		{in: "a[-1]", ok: false},
		{in: `a["x`, ok: false},
	} {
		got, ok := parsePath(tt.in)
		if ok != tt.ok {
			t.Errorf("parsePath(%q) ok = %v, want %v", tt.in, ok, tt.ok)
			continue
		}
		if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(segment{})); diff != "" {
			t.Errorf("parsePath(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestComparePaths(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"servers[2].url", "servers[10].url", -1},
		{"limits", "limits.burst", -1},
		{"name", "limits.burst", 1},
		{"", "a", -1},
		{"a", "a", 0},
	} {
		if got := comparePaths(tt.a, tt.b); got != tt.want {
			t.Errorf("comparePaths(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestYAMLPath(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    []segment
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "$", want: nil},
		{in: "$.plugins.cache.options", want: []segment{keySeg("plugins"), keySeg("cache"), keySeg("options")}},
		{in: `$.plugins.'auth.jwt'.options`, want: []segment{keySeg("plugins"), keySeg("auth.jwt"), keySeg("options")}},
		{in: `$.'it\'s'`, want: []segment{keySeg("it's")}},
		{in: "$.list[3].x", want: []segment{keySeg("list"), indexSeg(3), keySeg("x")}},
		{in: "plugins", wantErr: true},
		{in: "$..x", wantErr: true},
		{in: "$.a[*]", wantErr: true},
		{in: "$.'open", wantErr: true},
		{in: "$.a[1", wantErr: true},
		{in: "$x", wantErr: true},
	} {
		got, err := parseYAMLPath(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseYAMLPath(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(segment{})); diff != "" {
			t.Errorf("parseYAMLPath(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"ttl", "tll", 1},
		{"brust", "burst", 2},
		{"colour", "color", 1},
		{"ü", "u", 1},
	} {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
