// Package option holds [Error], the one error for a bad option: an option of
// a plugin, of a module or handler, or of a middleware constructor.
//
// # Who returns it
//
// The host (github.com/plykit/ply) returns one *Error per problem with a
// plugin's, module's or handler's options, joined with [errors.Join], with the
// plugin and, for options from a file, the file and line:column. The
// middleware package's constructors return it with the layer as Plugin. An
// options struct's Validate method returns it for what a schema cannot say (a
// rule across fields, a URL or PEM that must parse), with only Field and
// Problem; the host fills in the rest:
//
//	func (o Options) Validate() error {
//		if o.Burst > 0 && o.Rate == 0 {
//			return &option.Error{Field: "rate", Problem: "must be set when burst is set"}
//		}
//		return nil
//	}
//
// # Matching it
//
// Match it with [errors.As] (or errors.AsType); Field is the path of the
// option relative to the plugin's options:
//
//	if e, ok := errors.AsType[*option.Error](err); ok {
//		fmt.Println(e.Plugin, e.Field, e.Line, e.Problem)
//	}
//
// # Dependencies
//
// The package is a leaf: it imports only the standard library, so that plain
// net/http middleware reports its options as the host does without importing
// the kernel.
package option
