package lock

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"aead.dev/minisign"
)

// Errors of verification, matched with errors.Is; they come wrapped in a
// [*VerifyError] that names the plugin.
var (
	// ErrMissing matches an artifact that is not in the cache.
	ErrMissing = errors.New("artifact not in the cache")
	// ErrHash matches an artifact whose bytes do not hash to the locked
	// sha256: tampered with, or another artifact.
	ErrHash = errors.New("artifact does not match its sha256")
	// ErrSignature matches a signature that is not the key's over the
	// artifact, or one made for another plugin or version.
	ErrSignature = errors.New("bad signature")
)

// VerifyError is an artifact refused: which plugin, and why.
type VerifyError struct {
	Plugin, Version string
	Err             error // ErrMissing, ErrHash or ErrSignature, with details
}

func (e *VerifyError) Error() string {
	return "plugin " + e.Plugin + "@" + e.Version + ": " + e.Err.Error()
}

func (e *VerifyError) Unwrap() error { return e.Err }

// Comment returns the trusted comment a signature of name@version
// carries: "ply NAME@VERSION". Signing it binds the signature to the
// plugin and version, so that a registry cannot serve one signed artifact
// as another.
func Comment(name, version string) string { return "ply " + name + "@" + version }

// Signed returns the plugin and version a signature says it signs, from
// its trusted comment (see [Comment]), without checking it. A registry
// reads it to check a signature before it spends anything on the
// artifact.
func Signed(signature string) (name, version string, err error) {
	var sig minisign.Signature
	if err := sig.UnmarshalText([]byte(signature)); err != nil {
		return "", "", fmt.Errorf("%w: not a minisign signature: %v", ErrSignature, err) //nolint:errorlint // one %w: the sentinel
	}
	id, ok := strings.CutPrefix(sig.TrustedComment, "ply ")
	name, version, ok2 := strings.Cut(id, "@")
	if !ok || !ok2 {
		return "", "", fmt.Errorf("%w: the trusted comment %q does not name a plugin: sign with the comment \"ply NAME@VERSION\"", ErrSignature, sig.TrustedComment)
	}
	return name, version, nil
}

// Sign signs an artifact of name@version with a publisher's key and
// returns the signature in minisign's text format.
func Sign(key minisign.PrivateKey, name, version string, artifact []byte) string {
	return string(minisign.SignWithComments(key, artifact, Comment(name, version), "signature from ply"))
}

// Hash returns the artifact's sha256 in lower-case hex.
func Hash(artifact []byte) string {
	sum := sha256.Sum256(artifact)
	return hex.EncodeToString(sum[:])
}

// CheckSignature checks that signature is key's signature of artifact as
// name@version. It returns an error matching [ErrSignature] otherwise,
// saying what is wrong: an unparsable key or signature, another key, bytes
// it does not sign, or another plugin or version.
func CheckSignature(key, signature, name, version string, artifact []byte) error {
	var pub minisign.PublicKey
	if err := pub.UnmarshalText([]byte(key)); err != nil {
		return fmt.Errorf("%w: the key is not a minisign public key: %v", ErrSignature, err) //nolint:errorlint // one %w: the sentinel
	}
	var sig minisign.Signature
	if err := sig.UnmarshalText([]byte(signature)); err != nil {
		return fmt.Errorf("%w: not a minisign signature: %v", ErrSignature, err) //nolint:errorlint // one %w: the sentinel
	}
	if sig.KeyID != pub.ID() {
		return fmt.Errorf("%w: signed by key %016X, not by the publisher's key %016X", ErrSignature, sig.KeyID, pub.ID())
	}
	if !minisign.Verify(pub, artifact, []byte(signature)) {
		return fmt.Errorf("%w: the signature does not match the artifact's bytes (key %016X)", ErrSignature, pub.ID())
	}
	if want := Comment(name, version); sig.TrustedComment != want {
		return fmt.Errorf("%w: the signature is for %q, not %q", ErrSignature, sig.TrustedComment, want)
	}
	return nil
}

// Verify checks an artifact against its entry: its sha256, then its
// signature by the entry's key. The error is a [*VerifyError] wrapping
// [ErrHash] or [ErrSignature].
func Verify(e Entry, artifact []byte) error {
	if got := Hash(artifact); got != e.SHA256 {
		return &VerifyError{Plugin: e.Name, Version: e.Version,
			Err: fmt.Errorf("%w: the lockfile says %s, the artifact hashes to %s; it was changed after it was installed: run ply plugin install %s again", ErrHash, e.SHA256, got, e.Name)}
	}
	if err := CheckSignature(e.Key, e.Signature, e.Name, e.Version, artifact); err != nil {
		return &VerifyError{Plugin: e.Name, Version: e.Version, Err: err}
	}
	return nil
}
