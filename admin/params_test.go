package admin

import (
	"strconv"
	"testing"
)

// FuzzParams: the numbers the API reads from paths and queries are in
// range, and are the number the text says.
func FuzzParams(f *testing.F) {
	for _, s := range []string{"", "1", "100", "10000", "10001", "0", "-1", "1e3", "0x10", " 5", "18446744073709551615"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := parseLimit(s, 7); err == nil {
			if n < 1 || n > maxLimit || (s != "" && strconv.Itoa(n) != trimZeros(s)) || (s == "" && n != 7) {
				t.Fatalf("parseLimit(%q) = %d", s, n)
			}
		}
		if n, err := parseSeq(s); err == nil {
			if n == 0 || strconv.FormatUint(n, 10) != trimZeros(s) {
				t.Fatalf("parseSeq(%q) = %d", s, n)
			}
		}
	})
}

// trimZeros drops the leading zeros and a leading "+" that strconv accepts.
func trimZeros(s string) string {
	if len(s) > 0 && s[0] == '+' {
		s = s[1:]
	}
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}
