package eventbus

import "strings"

// validSubject reports whether s is a valid NATS subject: non-empty
// dot-separated tokens without whitespace, where "*" (one token) and ">"
// (one or more trailing tokens, last only) are wildcards. It follows
// nats-server's rules, so a subject valid here is valid on the wire.
func validSubject(s string) bool {
	if s == "" {
		return false
	}
	for {
		tok, rest, more := strings.Cut(s, ".")
		if tok == "" || strings.ContainsAny(tok, " \t\n\r\f") {
			return false
		}
		if tok == ">" && more {
			return false
		}
		if !more {
			return true
		}
		s = rest
	}
}

// literal reports whether a valid subject has no wildcard token.
func literal(s string) bool {
	for {
		tok, rest, more := strings.Cut(s, ".")
		if tok == "*" || tok == ">" {
			return false
		}
		if !more {
			return true
		}
		s = rest
	}
}

// match reports whether the literal subject matches pattern, both valid:
// "*" matches exactly one token and ">" one or more trailing tokens.
func match(pattern, subject string) bool {
	for {
		pt, prest, pmore := strings.Cut(pattern, ".")
		if pt == ">" {
			return subject != ""
		}
		st, srest, smore := strings.Cut(subject, ".")
		if pt != "*" && pt != st {
			return false
		}
		if !pmore || !smore {
			return pmore == smore
		}
		pattern, subject = prest, srest
	}
}
