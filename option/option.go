// Package option holds [Error], the one error for a bad option: an option of
// a plugin, of a module or handler, or of a middleware constructor.
//
// It is a leaf: the kernel (github.com/plykit/ply), the middleware package
// and the schema checker all use it, and it imports only the standard
// library, so that plain net/http middleware reports its options as the
// host does without importing the kernel.
//
// A Validate method of an options struct returns an *Error for what a
// schema cannot say (a rule across fields, a URL or PEM that must parse),
// naming the field; the host fills in the plugin, module, handler and the
// position in the file. Several problems are joined with [errors.Join]:
//
//	func (o Options) Validate() error {
//		if o.Burst > 0 && o.Rate == 0 {
//			return &option.Error{Field: "rate", Problem: "must be set when burst is set"}
//		}
//		return nil
//	}
//
// Callers match it with [errors.As] (or errors.AsType):
//
//	if e, ok := errors.AsType[*option.Error](err); ok {
//		fmt.Println(e.Plugin, e.Field, e.Line, e.Problem)
//	}
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
