package option

import (
	"strconv"
	"strings"
)

// Error is one problem with an option: it names where the options belong
// (the plugin, and the module and handler for per-module or per-handler
// options), the field, the position in the file they came from, and the fix.
// Several problems are returned joined with [errors.Join], in file order.
type Error struct {
	Plugin  string // the plugin (or middleware layer, "ratelimit") whose options these are; empty in a Validate method
	Module  string // set for module and handler options
	Handler string // set for handler options
	Field   string // path relative to the options: "ttl", "limits.burst", "servers[2].url", `tags["a.b"]`; empty for the whole options
	File    string // the file the options came from ("ply.yaml"); empty for options from code
	Line    int    // 1-based line in File; 0 when unknown
	Column  int    // 1-based column; 0 when unknown
	Problem string // what is wrong and how to fix it, lower case: "must be >= 0"
}

// Error returns the problem with its position and owner, each part only
// when known:
//
//	ply.yaml:12:8: plugin cache: ttl: must be >= 0s
//	ply.yaml:30:9: module users, handler list (plugin cache): ttl: must be >= 0s
//	plugin ratelimit: burst: must be >= 1, got -1
//	burst: must be >= 1, got -1
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
			if e.Column > 0 {
				b.WriteString(":" + strconv.Itoa(e.Column))
			}
		}
		b.WriteString(": ")
	}
	switch {
	case e.Handler != "":
		b.WriteString("module " + e.Module + ", handler " + e.Handler + " (plugin " + e.Plugin + "): ")
	case e.Module != "":
		b.WriteString("module " + e.Module + " (plugin " + e.Plugin + "): ")
	case e.Plugin != "":
		b.WriteString("plugin " + e.Plugin + ": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Problem)
	return b.String()
}
