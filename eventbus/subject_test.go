package eventbus

import (
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
)

func TestMatch(t *testing.T) {
	for _, tt := range []struct {
		pattern, subject string
		want             bool
	}{
		{"orders.created", "orders.created", true},
		{"orders.created", "orders.deleted", false},
		{"orders.created", "orders", false},
		{"orders", "orders.created", false},
		{"orders.*", "orders.created", true},
		{"orders.*", "orders", false},
		{"orders.*", "orders.created.eu", false},
		{"*.created", "orders.created", true},
		{"*.created", "orders.deleted", false},
		{"*", "orders", true},
		{"*", "orders.created", false},
		{"orders.>", "orders.created", true},
		{"orders.>", "orders.created.eu", true},
		{"orders.>", "orders", false},
		{">", "orders", true},
		{">", "a.b.c", true},
		{"*.*.>", "a.b", false},
		{"*.*.>", "a.b.c", true},
		{"a.*.c", "a.b.c", true},
		{"a.*.c", "a.b.d", false},
		{"a*.b", "a*.b", true},  // "a*" is a literal token
		{"a*.b", "ax.b", false}, // not a wildcard
	} {
		t.Run(tt.pattern+" "+tt.subject, func(t *testing.T) {
			if got := match(tt.pattern, tt.subject); got != tt.want {
				t.Errorf("match(%q, %q) = %v, want %v", tt.pattern, tt.subject, got, tt.want)
			}
		})
	}
}

func TestValidSubject(t *testing.T) {
	for _, tt := range []struct {
		subject          string
		valid, isLiteral bool
	}{
		{"orders", true, true},
		{"orders.created", true, true},
		{"orders.*", true, false},
		{"orders.>", true, false},
		{"a*.b>", true, true},
		{"", false, false},
		{".orders", false, false},
		{"orders.", false, false},
		{"orders..created", false, false},
		{"orders.>.created", false, false},
		{"orders created", false, false},
		{"orders.\tx", false, false},
	} {
		t.Run(tt.subject, func(t *testing.T) {
			if got := validSubject(tt.subject); got != tt.valid {
				t.Fatalf("validSubject(%q) = %v, want %v", tt.subject, got, tt.valid)
			}
			if tt.valid {
				if got := literal(tt.subject); got != tt.isLiteral {
					t.Errorf("literal(%q) = %v, want %v", tt.subject, got, tt.isLiteral)
				}
			}
		})
	}
}

// quirk reports a pattern with a token like "*0": NATS routes such tokens
// as literals (as match does), but server.SubjectMatchesFilter, the
// reference below, treats any token starting with '*' as a wildcard.
func quirk(pattern string) bool {
	for tok := range strings.SplitSeq(pattern, ".") {
		if len(tok) > 1 && tok[0] == '*' {
			return true
		}
	}
	return false
}

// FuzzMatch checks the matcher and the subject validation against
// nats-server's own, so local and NATS subscriptions agree.
func FuzzMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"orders.*", "orders.created"}, {"orders.>", "orders.a.b"}, {">", "a"},
		{"*.b.*", "a.b.c"}, {"a.b", "a.b"}, {"*0", "0"}, {"a.*", "a"}, {"a..b", "a.b"}, {"a.>.b", "a.x.b"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, subject string) {
		if got, want := validSubject(pattern), server.IsValidSubject(pattern); got != want {
			t.Fatalf("validSubject(%q) = %v, nats-server says %v", pattern, got, want)
		}
		if !validSubject(pattern) || !validSubject(subject) {
			return
		}
		if got, want := literal(subject), server.IsValidLiteralSubject(subject); got != want {
			t.Fatalf("literal(%q) = %v, nats-server says %v", subject, got, want)
		}
		if !literal(subject) || quirk(pattern) {
			return
		}
		if got, want := match(pattern, subject), server.SubjectMatchesFilter(subject, pattern); got != want {
			t.Fatalf("match(%q, %q) = %v, nats-server says %v", pattern, subject, got, want)
		}
	})
}
