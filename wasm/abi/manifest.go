package abi

import (
	"fmt"
	"math"
)

// Manifest is what a guest says about itself (the ply_manifest export):
// the identity and placement a native plugin gives in its ply.Info, and
// the schema of its options.
type Manifest struct {
	ABI         uint32 // the guest's ABI version; see [Version]
	Name        string
	Version     string // semver
	Priority    int64  // 0: Business, as for a native plugin
	Description string
	Kinds       []string // handler kinds the layer applies to; empty: all
	Requires    []Dependency
	Before      []string
	After       []string
	Options     []Field // the options schema, in order: an option's index is its place here
	Body        bool    // the layer wants the request body (HTTP requests are sent without it otherwise)
}

// Dependency is a plugin the guest depends on.
type Dependency struct {
	Name, Constraint string
	Optional         bool
}

// Type is the type of an option.
type Type byte

// Option types.
const (
	TypeString  Type = 1
	TypeInt     Type = 2 // int64
	TypeBool    Type = 3
	TypeFloat   Type = 4 // float64
	TypeStrings Type = 5 // a list of strings
)

func (t Type) String() string {
	switch t {
	case TypeString:
		return "string"
	case TypeInt:
		return "int"
	case TypeBool:
		return "bool"
	case TypeFloat:
		return "float"
	case TypeStrings:
		return "strings"
	}
	return fmt.Sprintf("type(%d)", byte(t))
}

// Field is one option of a guest: its name in the config file, its type,
// and the limits the host checks before the guest sees it.
type Field struct {
	Name        string
	Type        Type
	Description string
	Required    bool
	Min, Max    *float64 // numbers: the value; strings: the length; lists: the number of items
	Enum        []string // strings: the allowed values
	Pattern     string   // strings: a regular expression the value must match
}

const (
	flagRequired = 1 << iota
	flagMin
	flagMax
)

// AppendManifest appends m's encoding to b.
func AppendManifest(b []byte, m *Manifest) []byte {
	w := Writer{b: b}
	w.Uvarint(uint64(m.ABI))
	w.String(m.Name)
	w.String(m.Version)
	w.Varint(m.Priority)
	w.String(m.Description)
	strings(&w, m.Kinds)
	w.Uvarint(uint64(len(m.Requires)))
	for _, d := range m.Requires {
		w.String(d.Name)
		w.String(d.Constraint)
		w.Bool(d.Optional)
	}
	strings(&w, m.Before)
	strings(&w, m.After)
	w.Uvarint(uint64(len(m.Options)))
	for _, f := range m.Options {
		w.String(f.Name)
		w.Byte(byte(f.Type))
		w.String(f.Description)
		var flags byte
		if f.Required {
			flags |= flagRequired
		}
		if f.Min != nil {
			flags |= flagMin
		}
		if f.Max != nil {
			flags |= flagMax
		}
		w.Byte(flags)
		if f.Min != nil {
			w.Float(*f.Min)
		}
		if f.Max != nil {
			w.Float(*f.Max)
		}
		strings(&w, f.Enum)
		w.String(f.Pattern)
	}
	w.Bool(m.Body)
	return w.b
}

func strings(w *Writer, ss []string) {
	w.Uvarint(uint64(len(ss)))
	for _, s := range ss {
		w.String(s)
	}
}

func readStrings(r *Reader) []string {
	n := r.Count(1)
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.String()
	}
	return out
}

// DecodeManifest decodes a manifest. Trailing bytes are an error, as is a
// field of an unknown type.
func DecodeManifest(b []byte) (*Manifest, error) {
	r := NewReader(b)
	m := &Manifest{}
	abi := r.Uvarint()
	if abi > 1<<31 {
		return nil, fmt.Errorf("manifest: abi version %d: %w", abi, ErrBad)
	}
	m.ABI = uint32(abi)
	m.Name = r.String()
	m.Version = r.String()
	m.Priority = r.Varint()
	m.Description = r.String()
	m.Kinds = readStrings(&r)
	if n := r.Count(3); n > 0 {
		m.Requires = make([]Dependency, n)
		for i := range m.Requires {
			m.Requires[i] = Dependency{Name: r.String(), Constraint: r.String(), Optional: r.Byte() != 0}
		}
	}
	m.Before = readStrings(&r)
	m.After = readStrings(&r)
	if n := r.Count(6); n > 0 {
		m.Options = make([]Field, n)
		for i := range m.Options {
			f := &m.Options[i]
			f.Name = r.String()
			f.Type = Type(r.Byte())
			f.Description = r.String()
			flags := r.Byte()
			f.Required = flags&flagRequired != 0
			if flags&flagMin != 0 {
				v := r.Float()
				f.Min = &v
			}
			if flags&flagMax != 0 {
				v := r.Float()
				f.Max = &v
			}
			f.Enum = readStrings(&r)
			f.Pattern = r.String()
			if r.Err() == nil && (f.Type < TypeString || f.Type > TypeStrings) {
				return nil, fmt.Errorf("manifest: option %q: unknown type %d: %w", f.Name, f.Type, ErrBad)
			}
			if bad(f.Min) || bad(f.Max) {
				return nil, fmt.Errorf("manifest: option %q: a limit is not a finite number: %w", f.Name, ErrBad)
			}
		}
	}
	m.Body = r.Byte() != 0
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("manifest: %d bytes after the end: %w", r.Len(), ErrBad)
	}
	return m, nil
}

func bad(v *float64) bool { return v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) }

// Actions a layer's result asks for.
const (
	Continue byte = 0 // call next, after applying the header edits
	Respond  byte = 1 // short-circuit with a response
	Fail     byte = 2 // fail the call with an error attributed to the plugin
)

// Header edit operations in a result.
const (
	HeaderSet byte = 0
	HeaderAdd byte = 1
	HeaderDel byte = 2
)
