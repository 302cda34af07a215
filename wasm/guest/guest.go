package guest

import (
	"errors"
	"fmt"

	"github.com/plykit/ply/wasm/abi"
)

// Plugin describes a wasm plugin: what a native plugin's ply.Info says, its
// options and its layer. Register it once, from main or an init function.
type Plugin struct {
	Name        string // required; the name ply.yaml lists it under
	Version     string // required; semver
	Priority    int    // 0: Business; see ply's bands (Security 100, Logging 200, …)
	Description string
	Kinds       []string // handler kinds the layer applies to ("http", "job", "event"…); empty: all
	Requires    []Dependency
	Before      []string
	After       []string
	// Options are the plugin's options, each bound to a variable the host
	// sets before Init. The host validates a file's options against them
	// (types, Required, Min, Max, Enum, Pattern) with line:column.
	Options []Option
	// Body asks for the request body of HTTP calls; without it the layer
	// sees the method, path and headers only. Other kinds always carry
	// their payload.
	Body bool
	// Init runs in each instance once its options are set; an error fails
	// the plugin's provisioning with the message.
	Init func() error
	// Start and Stop, when set, run when the host starts and stops the
	// plugin, each in one instance of the host's pool (instances share no
	// memory): for effects through capabilities — warm the kv, log — not
	// for state the layer reads. An error fails the host's start or stop.
	Start, Stop func() error
	// Layer is called for every call of a handler the plugin wraps. It
	// continues the chain unless it calls [Response.Respond] or
	// [Response.Fail].
	Layer func(req *Request, res *Response)
}

// Dependency names a plugin this one needs.
type Dependency struct {
	Name       string
	Constraint string // semver constraint; empty means any
	Optional   bool
}

// Option is one declared option, made by [String], [Int], [Bool],
// [Float] or [Strings].
type Option struct {
	field abi.Field
	set   func(r *abi.Reader)
}

// A Limit constrains an option: [Required], [Min], [Max], [OneOf],
// [Pattern], [Describe].
type Limit func(f *abi.Field)

// Required makes the option mandatory.
func Required() Limit { return func(f *abi.Field) { f.Required = true } }

// Min is the smallest value (a number), length (a string) or number of
// items (a list).
func Min(v float64) Limit { return func(f *abi.Field) { f.Min = &v } }

// Max is the largest value, length or number of items.
func Max(v float64) Limit { return func(f *abi.Field) { f.Max = &v } }

// OneOf lists the values a string option may take.
func OneOf(values ...string) Limit { return func(f *abi.Field) { f.Enum = values } }

// Pattern is a regular expression a string option must match.
func Pattern(re string) Limit { return func(f *abi.Field) { f.Pattern = re } }

// Describe documents the option; it shows in the host's schema.
func Describe(text string) Limit { return func(f *abi.Field) { f.Description = text } }

func option(name string, t abi.Type, limits []Limit, set func(r *abi.Reader)) Option {
	o := Option{field: abi.Field{Name: name, Type: t}, set: set}
	for _, l := range limits {
		l(&o.field)
	}
	return o
}

// String declares a string option named name, stored in *dst. The value
// *dst holds before the host sets it is the default.
func String(name string, dst *string, limits ...Limit) Option {
	return option(name, abi.TypeString, limits, func(r *abi.Reader) { *dst = r.String() })
}

// Int declares an integer option.
func Int(name string, dst *int, limits ...Limit) Option {
	return option(name, abi.TypeInt, limits, func(r *abi.Reader) { *dst = int(r.Varint()) })
}

// Bool declares a boolean option.
func Bool(name string, dst *bool, limits ...Limit) Option {
	return option(name, abi.TypeBool, limits, func(r *abi.Reader) { *dst = r.Byte() != 0 })
}

// Float declares a floating-point option.
func Float(name string, dst *float64, limits ...Limit) Option {
	return option(name, abi.TypeFloat, limits, func(r *abi.Reader) { *dst = r.Float() })
}

// Strings declares a list-of-strings option.
func Strings(name string, dst *[]string, limits ...Limit) Option {
	return option(name, abi.TypeStrings, limits, func(r *abi.Reader) {
		n := r.Count(1)
		out := make([]string, n)
		for i := range out {
			out[i] = r.String()
		}
		*dst = out
	})
}

var registered *Plugin

// Register makes p the module's plugin. Call it once, from main or init;
// a second call panics, as does a plugin without a name, version or layer.
func Register(p Plugin) {
	switch {
	case registered != nil:
		panic("guest: Register called twice")
	case p.Name == "" || p.Version == "":
		panic("guest: a plugin needs a Name and a Version")
	case p.Layer == nil:
		panic("guest: a plugin needs a Layer")
	}
	registered = &p
}

// manifest encodes the registered plugin's manifest.
func manifest(p *Plugin) []byte {
	m := abi.Manifest{ABI: abi.Version, Name: p.Name, Version: p.Version, Priority: int64(p.Priority),
		Description: p.Description, Kinds: p.Kinds, Before: p.Before, After: p.After, Body: p.Body}
	for _, d := range p.Requires {
		m.Requires = append(m.Requires, abi.Dependency(d))
	}
	for _, o := range p.Options {
		m.Options = append(m.Options, o.field)
	}
	return abi.AppendManifest(nil, &m)
}

// setOptions decodes the host's options message into the bound variables.
func setOptions(p *Plugin, msg []byte) error {
	r := abi.NewReader(msg)
	n := r.Count(1)
	for range n {
		i := r.Uvarint()
		if r.Err() != nil || i >= uint64(len(p.Options)) {
			return fmt.Errorf("options: bad field index %d", i)
		}
		p.Options[i].set(&r)
	}
	if err := r.Err(); err != nil {
		return fmt.Errorf("options: %w", err)
	}
	if p.Init != nil {
		return p.Init()
	}
	return nil
}

var errNoPlugin = errors.New("guest: no plugin registered; call guest.Register from main or init")
