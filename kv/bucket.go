package kv

import (
	"errors"
	"fmt"
	"strings"
)

// Bucket-name prefixes: key-value buckets and object stores.
const (
	kvPrefix  = "ply_kv_"
	objPrefix = "ply_obj_"
)

// MaxBucketLen bounds a bucket name; JetStream allows 255 bytes for the
// stream name ("KV_" or "OBJ_" and the bucket name).
const MaxBucketLen = 240

const hexDigits = "0123456789abcdef"

// Namespace joins parts (a tenant and a plugin, say) into a namespace:
// "acme/cache". A part must be non-empty and must not contain '/', so that
// different parts never give one namespace. It returns an error matching
// [ErrNamespace] otherwise.
func Namespace(parts ...string) (string, error) {
	if len(parts) == 0 {
		return "", fmt.Errorf("no parts: %w", ErrNamespace)
	}
	for _, p := range parts {
		if p == "" || strings.Contains(p, "/") {
			return "", fmt.Errorf("part %q: must be non-empty and without '/': %w", p, ErrNamespace)
		}
	}
	return strings.Join(parts, "/"), nil
}

// Bucket returns the key-value bucket name of namespace: "ply_kv_" and the
// encoding described in the package documentation. It returns an error
// matching [ErrNamespace] for an empty namespace or one whose bucket name
// would be longer than [MaxBucketLen].
func Bucket(namespace string) (string, error) { return bucket(kvPrefix, namespace) }

// ObjectBucket returns the object store bucket name of namespace:
// "ply_obj_" and the encoding of [Bucket].
func ObjectBucket(namespace string) (string, error) { return bucket(objPrefix, namespace) }

func bucket(prefix, namespace string) (string, error) {
	if namespace == "" {
		return "", fmt.Errorf("empty namespace: %w", ErrNamespace)
	}
	var b strings.Builder
	b.WriteString(prefix)
	for i := 0; i < len(namespace); i++ {
		c := namespace[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		}
		if b.Len() > MaxBucketLen {
			return "", fmt.Errorf("namespace %.40q…: bucket name longer than %d bytes: %w", namespace, MaxBucketLen, ErrNamespace)
		}
	}
	return b.String(), nil
}

// decode is the inverse of the encoding after the prefix; tests use it to
// check the mapping is injective.
func decode(enc string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(enc); i++ {
		c := enc[i]
		if c != '_' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(enc) {
			return "", errors.New("truncated escape")
		}
		hi, lo := strings.IndexByte(hexDigits, enc[i+1]), strings.IndexByte(hexDigits, enc[i+2])
		if hi < 0 || lo < 0 {
			return "", errors.New("bad escape")
		}
		b.WriteByte(byte(hi<<4 | lo)) //nolint:gosec // hi and lo index the 16 hex digits, so hi<<4|lo is at most 0xff
		i += 2
	}
	return b.String(), nil
}
