//go:build !wasip1

package guest

import "errors"

var errNotWasm = errors.New("guest: capabilities exist only in a wasip1 build")

// Log writes msg to the host's log at level, with the plugin's name.
// Capability: log. Outside a wasip1 build it does nothing.
func Log(_ int, _ string) {}

// Now returns the host's wall clock, in nanoseconds since 1970.
// Capability: clock. Outside a wasip1 build it returns 0.
func Now() int64 { return 0 }

// Random fills b with cryptographically secure random bytes.
// Capability: random. Outside a wasip1 build it does nothing.
func Random(_ []byte) {}

// KVGet returns the value under key in the plugin's own key-value space,
// or [ErrNotFound]. Capability: kv.
func KVGet(_ string) ([]byte, error) { return nil, errNotWasm }

// KVSet stores value under key in the plugin's own key-value space.
// Capability: kv.
func KVSet(_ string, _ []byte) error { return errNotWasm }

// KVDelete removes key from the plugin's key-value space. Capability: kv.
func KVDelete(_ string) error { return errNotWasm }

// Fetch makes an HTTP request through the host, to a host on the plugin's
// allowlist. Capability: http.
func Fetch(_, _ string, _ [][2]string, _ []byte) (*HTTPResponse, error) {
	return nil, errNotWasm
}

// Publish publishes data as an event on subject. Capability: events.
func Publish(_ string, _ []byte) error { return errNotWasm }
