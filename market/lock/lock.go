package lock

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"

	"aead.dev/minisign"
	"github.com/Masterminds/semver/v3"
)

// Name is the lockfile's usual name, beside the host's config file.
const Name = "ply.lock"

// MaxSize is the largest lockfile [Parse] accepts: 1 MiB, some thousands
// of plugins.
const MaxSize = 1 << 20

// FormatVersion is the version of the lockfile format this package
// writes and reads.
const FormatVersion = 1

// Lock is the content of a ply.lock: the exact artifacts a host runs. It
// is written by ply plugin install and read, never changed, by ply run.
type Lock struct {
	// Version is the format's version, [FormatVersion].
	Version int `json:"version"`
	// Plugins are the locked artifacts, sorted by name; a name appears
	// once.
	Plugins []Entry `json:"plugins"`
}

// Entry is one locked artifact: which plugin, which bytes, who signed them
// and where they came from.
type Entry struct {
	Name    string `json:"name"`
	Version string `json:"version"` // strict semver
	// SHA256 is the artifact's hash, lower-case hex.
	SHA256 string `json:"sha256"`
	// Signature is the publisher's minisign signature of the artifact, in
	// minisign's text format; its trusted comment is "ply NAME@VERSION".
	Signature string `json:"signature"`
	// Key is the publisher's minisign public key (base64, "RW…").
	Key string `json:"key"`
	// Source is where the artifact was fetched from: a registry's URL or
	// a directory. Informational: ply run never contacts it.
	Source string `json:"source,omitempty"`
	// Requires are the plugins its manifest requires, so that ply plugin
	// verify and remove can check the set offline.
	Requires []Dependency `json:"requires,omitempty"`
}

// Dependency is a locked plugin's requirement on another plugin.
type Dependency struct {
	Name       string `json:"name"`
	Constraint string `json:"constraint,omitempty"` // semver; empty: any version
	Optional   bool   `json:"optional,omitempty"`
}

// ID returns "name@version".
func (e Entry) ID() string { return e.Name + "@" + e.Version }

// pluginName is what a plugin name may be: a registry URL segment, a file
// name and a config key without quoting.
var pluginName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ValidName reports whether name can name a plugin in a lockfile and a
// registry: 1 to 64 of a-z, 0-9, '.', '_' and '-', starting with a letter
// or digit.
func ValidName(name string) bool { return pluginName.MatchString(name) }

// Parse decodes and checks a lockfile. Unknown fields, a format version
// other than [FormatVersion], a name given twice, a bad name, version,
// hash, key or signature are errors naming the entry and the field.
func Parse(data []byte) (*Lock, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("lockfile: %d bytes, over the limit of %d", len(data), MaxSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var l Lock
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("lockfile: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("lockfile: data after the end of the JSON object")
	}
	if l.Version != FormatVersion {
		return nil, fmt.Errorf("lockfile: format version %d; this ply reads version %d: run ply plugin install again", l.Version, FormatVersion)
	}
	seen := map[string]bool{}
	for i, e := range l.Plugins {
		if err := e.check(); err != nil {
			return nil, fmt.Errorf("lockfile: plugins[%d]: %w", i, err)
		}
		if seen[e.Name] {
			return nil, fmt.Errorf("lockfile: plugins[%d]: plugin %s is locked twice: keep one entry", i, e.Name)
		}
		seen[e.Name] = true
	}
	return &l, nil
}

// check checks one entry's fields.
func (e Entry) check() error {
	if !ValidName(e.Name) {
		return fmt.Errorf("name %q: want 1 to 64 of a-z, 0-9, '.', '_' and '-'", e.Name)
	}
	if _, err := semver.StrictNewVersion(e.Version); err != nil {
		return fmt.Errorf("plugin %s: version %q is not semver (MAJOR.MINOR.PATCH)", e.Name, e.Version)
	}
	if b, err := hex.DecodeString(e.SHA256); err != nil || len(b) != 32 || hex.EncodeToString(b) != e.SHA256 {
		return fmt.Errorf("plugin %s: sha256 %q: want 64 lower-case hex digits", e.Name, e.SHA256)
	}
	var key minisign.PublicKey
	if err := key.UnmarshalText([]byte(e.Key)); err != nil {
		return fmt.Errorf("plugin %s: key: not a minisign public key: %w", e.Name, err)
	}
	var sig minisign.Signature
	if err := sig.UnmarshalText([]byte(e.Signature)); err != nil {
		return fmt.Errorf("plugin %s: signature: not a minisign signature: %w", e.Name, err)
	}
	if sig.KeyID != key.ID() {
		return fmt.Errorf("plugin %s: the signature is by key %016X, not by the entry's key %016X", e.Name, sig.KeyID, key.ID())
	}
	for j, d := range e.Requires {
		if !ValidName(d.Name) {
			return fmt.Errorf("plugin %s: requires[%d]: name %q is not a plugin name", e.Name, j, d.Name)
		}
		if _, err := constraint(d.Constraint); err != nil {
			return fmt.Errorf("plugin %s: requires[%d]: %s %q: not a semver constraint", e.Name, j, d.Name, d.Constraint)
		}
	}
	return nil
}

// constraint parses a semver constraint; nil for any version.
func constraint(s string) (*semver.Constraints, error) {
	if s == "" || s == "*" {
		return nil, nil
	}
	return semver.NewConstraint(s)
}

// Check checks that the locked set is consistent: every required plugin
// is locked at a version its constraint allows, and every optional one
// that is locked too. It returns one error per problem, each naming the
// plugins.
func (l *Lock) Check() []error {
	var errs []error
	for _, e := range l.Plugins {
		for _, d := range e.Requires {
			dep, ok := l.Find(d.Name)
			if !ok {
				if !d.Optional {
					errs = append(errs, fmt.Errorf("plugin %s requires %s %s, which is not locked: run ply plugin install %s", e.ID(), d.Name, cmp.Or(d.Constraint, "(any version)"), d.Name))
				}
				continue
			}
			c, _ := constraint(d.Constraint) // checked by Parse
			v, err := semver.StrictNewVersion(dep.Version)
			if c != nil && (err != nil || !c.Check(v)) {
				errs = append(errs, fmt.Errorf("plugin %s requires %s %s, but %s is locked: run ply plugin update", e.ID(), d.Name, d.Constraint, dep.ID()))
			}
		}
	}
	return errs
}

// Dependents returns the locked plugins that require name (not
// optionally).
func (l *Lock) Dependents(name string) []string {
	var out []string
	for _, e := range l.Plugins {
		if slices.ContainsFunc(e.Requires, func(d Dependency) bool { return d.Name == name && !d.Optional }) {
			out = append(out, e.ID())
		}
	}
	return out
}

// Marshal encodes l as indented JSON with its plugins sorted by name, so
// that a lockfile diffs well under version control.
func (l *Lock) Marshal() []byte {
	out := Lock{Version: FormatVersion, Plugins: slices.Clone(l.Plugins)}
	if out.Plugins == nil {
		out.Plugins = []Entry{}
	}
	slices.SortFunc(out.Plugins, func(a, b Entry) int { return cmp.Compare(a.Name, b.Name) })
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		panic(err) // strings and an int: cannot fail
	}
	return append(b, '\n')
}

// Find returns the entry of the plugin name.
func (l *Lock) Find(name string) (Entry, bool) {
	i := slices.IndexFunc(l.Plugins, func(e Entry) bool { return e.Name == name })
	if i < 0 {
		return Entry{}, false
	}
	return l.Plugins[i], true
}

// Set adds e, replacing the entry of the same name.
func (l *Lock) Set(e Entry) {
	l.Remove(e.Name)
	l.Plugins = append(l.Plugins, e)
	slices.SortFunc(l.Plugins, func(a, b Entry) int { return cmp.Compare(a.Name, b.Name) })
}

// Remove removes the entry of the plugin name; it reports whether there
// was one.
func (l *Lock) Remove(name string) bool {
	n := len(l.Plugins)
	l.Plugins = slices.DeleteFunc(l.Plugins, func(e Entry) bool { return e.Name == name })
	return len(l.Plugins) != n
}

// Read reads and parses the lockfile at path. A missing file is the
// [os.Open] error (errors.Is(err, fs.ErrNotExist)).
func Read(path string) (*Lock, error) {
	f, err := os.Open(path) //nolint:gosec // the operator names the lockfile on purpose
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read-only
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, err
	}
	l, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

// Write writes l to path atomically: a reader sees the old lockfile or
// the new one, never half of one.
func Write(path string, l *Lock) error {
	return writeAtomic(path, l.Marshal(), 0o644)
}

// writeAtomic writes data to a temporary file beside path and renames it.
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	err = errors.Join(err, f.Close())
	if err == nil {
		err = os.Chmod(tmp, perm)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp) // best effort: the write already failed
	}
	return err
}

// ValidHash reports whether s is a sha256 digest in lower-case hex, as
// entries and the cache name artifacts.
func ValidHash(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32 && hex.EncodeToString(b) == s
}

// CheckKey checks that key is a minisign public key ("RW…").
func CheckKey(key string) error {
	var pub minisign.PublicKey
	if err := pub.UnmarshalText([]byte(key)); err != nil {
		return fmt.Errorf("not a minisign public key: %w", err)
	}
	return nil
}
