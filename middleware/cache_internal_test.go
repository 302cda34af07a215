package middleware

import (
	"strings"
	"testing"
)

func FuzzParseCacheControl(f *testing.F) {
	for _, s := range []string{"no-store", "max-age=60, private", `s-maxage="30"`, "max-age=-1", "max-age=99999999999999999999", " , ,=", "No-Cache"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cc := parseCacheControl([]string{s})
		for name, arg := range cc {
			if name != strings.ToLower(name) || strings.Contains(name, ",") {
				t.Errorf("directive name %q from %q is not a lower-case token", name, s)
			}
			if d, ok := cc.seconds(name); !ok || d < 0 {
				t.Errorf("seconds(%q) = %v, %v from %q (arg %q), want >= 0 and present", name, d, ok, s, arg)
			}
		}
		// Parsing the directives again, written back canonically, gives the same set.
		var parts []string
		for name, arg := range cc {
			if strings.ContainsAny(arg, `,"=`) || strings.ContainsAny(name, `"=`) || name == "" {
				return // not representable as a token: nothing to compare
			}
			if arg == "" {
				parts = append(parts, name)
			} else {
				parts = append(parts, name+"="+arg)
			}
		}
		again := parseCacheControl([]string{strings.Join(parts, ", ")})
		if len(again) != len(cc) {
			t.Fatalf("round trip of %q: %v then %v", s, cc, again)
		}
		for name, arg := range cc {
			if again[name] != arg {
				t.Fatalf("round trip of %q: %s=%q became %q", s, name, arg, again[name])
			}
		}
	})
}
