// Package options decodes and validates a plugin's options.
//
// A plugin's options are a Go struct whose zero value means "all defaults". Fields
// are named by their json tags and limited by their jsonschema tags, and the struct
// may check what tags cannot express in a `Validate() error` method:
//
//	type Options struct {
//		TTL   time.Duration `json:"ttl,omitempty" jsonschema:"minimum=0,maximum=1h"`
//		Mode  string        `json:"mode,omitempty" jsonschema:"enum=lru,enum=lfu"`
//		Redis string        `json:"redis,omitempty" jsonschema:"required,pattern=^redis://"`
//	}
//
// Options come from code (the struct already filled in) or from a node of a YAML or
// JSON file, such as the plugin's entry in the ply host's configuration. Options
// from a file replace options from code; they are not merged.
//
// # Reporting
//
// Every function reports all problems at once, as a []*option.Error, in file order.
// Each has a Field relative to the plugin's options ("limits.burst",
// "servers[2].url"; for an unknown key, the key's own path), the line and column in
// the file when the options came from one, and a Problem that says the fix:
// `must be >= 0`, `unknown field (did you mean "ttl"?)`,
// `must be a duration such as "1.5s" or "2m" (a number and a unit: ns, us, ms, s, m or h)`.
// A value of the wrong type does not hide the other problems: it is left out and the
// rest is decoded and validated. Limits are jsonschema tags only; a Validate method
// checks what a schema cannot say, and its problems come beside the schema's. A
// limit broken by options from code shows the number that broke it ("must be >= 0,
// got -5"); one in a file points at it instead. Messages never repeat a
// string from the file, nor any value under a key that names a secret (key, token,
// password, auth…): they name the path and the fix instead.
//
// # Decoding
//
// One schema checks options from a file and from code. Options from a file are
// checked as written, before they are decoded: the options node becomes the value
// that encoding/json would make of the decoded options (fields under their json
// names, zero values left out under omitempty, durations as strings, types that
// decode themselves decoded), and the schema reports every unknown key (with the
// closest field name), value of the wrong type, bad duration and broken limit at
// once, each at its node. The values of the wrong type are then left out and
// goccy/go-yaml decodes the rest strictly; a value it still refuses (an integer out
// of the field's range) is reported and left out in turn. Duplicate keys are
// problems too.
//
// [Decode] reports only what keeps options from decoding (unknown and duplicate
// keys, values of the wrong type, bad durations), not limits. Durations are written
// as Go durations ("1.5s", "2m"). Options structs should tag every field with json
// (the decoder falls back to the lower-cased Go name, encoding/json to the Go name)
// and should not embed structs, which the two packages treat differently.
//
// # Validation
//
// [Schema] generates a JSON Schema (draft 2020-12) from the struct with
// invopop/jsonschema; [Validate] checks options from code against it with
// santhosh-tekuri/jsonschema and then calls the Validate method. The schema sees the
// options as encoding/json encodes them: use omitempty (or omitzero) on fields
// whose zero value means "default", so that limits apply only to values that were
// set and "required" means "set to a non-zero value". A null counts as absent. A
// [time.Duration] is a string there, as in a file ("1.5s"), with the pattern of
// [time.ParseDuration]; its minimum and maximum tags are durations
// (`jsonschema:"minimum=1s"`; a plain number is nanoseconds) and become the
// keywords minDuration and maxDuration of this package's vocabulary.
//
// [Load] is [Decode] then [Validate]: what a host does with a plugin's options from
// its configuration file. [Parse] keeps the parsed file, to load from it and to find
// the position of any path in it.
//
// # Environment variables
//
// With [Source].Env set, ${NAME} in a scalar value is replaced after parsing with the
// variable's value; keys and comments never are, and $${NAME} is a literal ${NAME}.
// A plain value that is one reference and nothing else takes the type of what it
// becomes ("port: ${PORT}" is an integer); a quoted one stays a string. In a flow
// collection ({...} or [...]) a reference must be quoted, since braces end a plain
// value there.
//
// # Limits
//
// A document nested deeper than [MaxDepth] or whose aliases expand to more than
// [MaxAliasNodes] values ("billion laughs") is refused before it is decoded, with the
// position where it goes over.
package options
