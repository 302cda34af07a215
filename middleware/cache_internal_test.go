package middleware

import (
	"net/http"
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

func FuzzByteRange(f *testing.F) {
	for _, s := range []string{"bytes=0-1", "bytes=1-", "bytes=-1", "bytes=5-2", "bytes=0-1,3-4", "items=0-1", "bytes=-0", "bytes=99999999999999999999-"} {
		f.Add(s, 11)
	}
	f.Fuzz(func(t *testing.T, spec string, size int) {
		if size < 0 || size > 1<<20 {
			return
		}
		start, end, status := byteRange(spec, size)
		switch status {
		case http.StatusPartialContent:
			if start < 0 || end < start || end >= size {
				t.Fatalf("byteRange(%q, %d) = %d-%d, outside the body", spec, size, start, end)
			}
		case http.StatusOK, http.StatusRequestedRangeNotSatisfiable:
		default:
			t.Fatalf("byteRange(%q, %d): status %d", spec, size, status)
		}
	})
}

func FuzzHTTPDate(f *testing.F) {
	for _, s := range []string{"Thu, 18 Aug 2050 02:01:18 GMT", "Thursday, 18-Aug-50 02:01:18 GMT", "Thu Aug  8 02:01:18 2050", "Thu, 18 Aug 2050 2:01:18 GMT", "0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := httpDate([]string{s})
		if !ok {
			return
		}
		// A valid date written back as an IMF-fixdate is read as the same instant.
		again, ok := httpDate([]string{d.UTC().Format(http.TimeFormat)})
		if d.Year() >= 0 && d.Year() <= 9999 && (!ok || !again.Equal(d)) {
			t.Fatalf("%q -> %v -> %v, %v", s, d, again, ok)
		}
	})
}

func FuzzTargeted(f *testing.F) {
	for _, s := range []string{"max-age=60", "max-age=\"60\"", "max-age=60, &&&", "private", "foo;a=1, s-maxage=10", "MaX-aGe=3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cc, ok := targeted([]string{s})
		if !ok {
			return
		}
		for k := range cc {
			if !sfKey(k) {
				t.Fatalf("targeted(%q) kept key %q", s, k)
			}
		}
		for _, k := range []string{"max-age", "s-maxage"} {
			if d, has := cc.seconds(k); has && d < 0 {
				t.Fatalf("targeted(%q): %s = %v", s, k, d)
			}
		}
	})
}
