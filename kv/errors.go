package kv

import "errors"

// Sentinel errors. Match them with [errors.Is].
var (
	// ErrNotFound: the key (or object) does not exist, or was deleted.
	ErrNotFound = errors.New("kv: not found")
	// ErrExists: Create found the key already set.
	ErrExists = errors.New("kv: key exists")
	// ErrConflict: Update found the key at another revision than the one
	// given (someone else wrote it first).
	ErrConflict = errors.New("kv: revision conflict")
	// ErrInvalidKey: the key has characters JetStream does not allow.
	ErrInvalidKey = errors.New("kv: invalid key")
	// ErrNamespace: the namespace is empty or too long, or a part given to
	// [Namespace] is empty or contains '/'.
	ErrNamespace = errors.New("kv: invalid namespace")
)
