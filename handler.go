package ply

import (
	"context"
	"slices"
	"time"
)

// Kind is a handler's kind. Plugins choose the kinds they wrap with
// [Info.Kinds]; user-defined kinds are fine.
type Kind string

// The kinds ply's own packages use.
const (
	KindHTTP   Kind = "http"
	KindRPC    Kind = "rpc"
	KindJob    Kind = "job"
	KindEvent  Kind = "event"
	KindStream Kind = "stream"
)

// HandlerFunc is the innermost function of a chain. It reads the request
// from the call ([Call.Request]) and sets the response ([Call.SetResponse])
// or, for a stream, emits items with [Emit].
type HandlerFunc func(ctx context.Context, c *Call) error

// Handler is an application handler, registered with the host in a
// [Module]. Every handler gets its own chain, compiled once in the Wrap
// phase.
type Handler struct {
	Kind Kind
	Name string // unique within its module; for HTTP, a [net/http.ServeMux] pattern such as "GET /users/{id}"
	Tags []string
	Func HandlerFunc
	// Options holds per-plugin options for this handler, by plugin name: a
	// pointer to the plugin's handler options struct, or [RawOptions]. They
	// replace the module's options for that plugin.
	Options map[string]any
}

// HasTag reports whether the handler carries tag.
func (h *Handler) HasTag(tag string) bool { return slices.Contains(h.Tags, tag) }

// Module groups handlers under a name, an optional route prefix and
// per-plugin options.
type Module struct {
	Name     string
	Prefix   string // route prefix for HTTP handlers, e.g. "/api/users"
	Options  map[string]any
	Handlers []Handler
}

// Target is what a [Wrapper] sees of one handler in the Wrap phase.
type Target struct {
	Handler *Handler
	Module  *Module
	// Options are the wrapping plugin's options for this handler (the
	// handler's, else the module's), decoded and validated; nil when none
	// were given. Their type is what [HandlerConfigurable.HandlerOptions]
	// returns.
	Options any
}

// Wrap is what a plugin contributes to one handler's chain: a layer, an
// after-hook, or both. The zero Wrap contributes nothing.
type Wrap struct {
	Layer Layer
	After AfterHook
}

// Wrapper is implemented by plugins that contribute to handler chains. In
// the Wrap phase (after Validate, before Start) the host calls Wrap once for
// every handler whose kind is in the plugin's [Info.Kinds] (all kinds when
// empty); the plugin picks the handlers it wants by kind, tag or any other
// predicate, and returns the zero Wrap for the others. Look up other
// plugins' APIs here, not per call.
type Wrapper interface {
	Wrap(ctx context.Context, t Target) (Wrap, error)
}

// Binder is implemented by route plugins: in the Bind phase, after Wrap,
// they receive every wrapped handler's [Chain] (and see nothing unwrapped).
type Binder interface {
	Bind(ctx context.Context, chains []*Chain) error
}

// LayerObserver is implemented by plugins that measure every layer of every
// chain — metrics per plugin and handler. When any plugin implements it,
// the host measures each layer's calls, errors, short-circuits and
// self-time (its own time, without the inner layers) and calls
// ObserveLayer synchronously after each layer returns, from the calling
// goroutine: it must be fast and safe for concurrent use. When none does,
// chains measure nothing.
//
// PrepareLayer is called once per layer when a chain is compiled (at the
// Wrap phase and whenever a reload recompiles a chain), with the sample's
// identity fields set; what it returns comes back as every sample's
// Prepared, so an observer builds its labels once, not per call. An observer that returns nil for
// every layer of a chain declines it, and that chain is not measured.
type LayerObserver interface {
	PrepareLayer(s LayerSample) any
	ObserveLayer(s LayerSample)
}

// LayerSample is one layer's part in one call.
type LayerSample struct {
	Plugin, Version string // the layer's plugin
	Module, Handler string // the handler; for HTTP its pattern, so cardinality stays bounded
	Kind            Kind
	Self            time.Duration // in the layer, excluding its next
	Err             error         // what the layer returned
	ShortCircuit    bool          // the layer returned without calling next
	Prepared        any           // what the observer's PrepareLayer returned for this layer
	// Took is the layer's whole time, its next included (Self + the inner
	// layers and the handler), and Call the call it is part of: an observer
	// that groups a call's samples (a request inspector) finds its state in
	// the call's bag ([Get]). Samples reach the observer inner → outer, the
	// outermost layer's last. Call is valid only during ObserveLayer.
	Took time.Duration
	Call *Call
}

// HandlerConfigurable is implemented by plugins that take options per
// module or handler. HandlerOptions returns a new pointer to the zero
// options struct; the host decodes and validates module and handler options
// into it at build time, exactly as plugin options.
type HandlerConfigurable interface {
	HandlerOptions() any
}
