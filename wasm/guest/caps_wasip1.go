//go:build wasip1

package guest

import (
	"errors"
	"unsafe"
)

// The host's capability imports (module "ply"). The linker keeps only
// those a program calls, so a module imports what it uses.

//go:wasmimport ply log
func hostLog(level int32, ptr unsafe.Pointer, n int32)

//go:wasmimport ply clock_now
func hostNow() int64

//go:wasmimport ply random
func hostRandom(ptr unsafe.Pointer, n int32)

//go:wasmimport ply kv_get
func hostKVGet(kptr unsafe.Pointer, klen int32, vptr unsafe.Pointer, vcap int32) int64

//go:wasmimport ply kv_set
func hostKVSet(kptr unsafe.Pointer, klen int32, vptr unsafe.Pointer, vlen int32) int32

//go:wasmimport ply kv_delete
func hostKVDelete(kptr unsafe.Pointer, klen int32) int32

//go:wasmimport ply http_fetch
func hostFetch(rptr unsafe.Pointer, rlen int32, bptr unsafe.Pointer, bcap int32) int64

//go:wasmimport ply publish
func hostPublish(sptr unsafe.Pointer, slen int32, dptr unsafe.Pointer, dlen int32) int32

func ptr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

func sptr(s string) unsafe.Pointer { return unsafe.Pointer(unsafe.StringData(s)) }

// Log writes msg to the host's log at level, with the plugin's name.
// Capability: log.
func Log(level int, msg string) { hostLog(int32(level), sptr(msg), int32(len(msg))) }

// Now returns the host's wall clock, in nanoseconds since 1970.
// Capability: clock.
func Now() int64 { return hostNow() }

// Random fills b with cryptographically secure random bytes.
// Capability: random.
func Random(b []byte) { hostRandom(ptr(b), int32(len(b))) }

// KVGet returns the value under key in the plugin's own key-value space,
// or [ErrNotFound]. Capability: kv.
func KVGet(key string) ([]byte, error) {
	buf := make([]byte, 4096)
	for {
		n := hostKVGet(sptr(key), int32(len(key)), ptr(buf), int32(len(buf)))
		switch {
		case n == -1:
			return nil, ErrNotFound
		case n < 0:
			return nil, errors.New("guest: kv get failed")
		case int(n) > len(buf):
			buf = make([]byte, n)
			continue
		}
		return buf[:n], nil
	}
}

// KVSet stores value under key in the plugin's own key-value space.
// Capability: kv.
func KVSet(key string, value []byte) error {
	if hostKVSet(sptr(key), int32(len(key)), ptr(value), int32(len(value))) != 0 {
		return errors.New("guest: kv set failed")
	}
	return nil
}

// KVDelete removes key from the plugin's key-value space. Capability: kv.
func KVDelete(key string) error {
	if hostKVDelete(sptr(key), int32(len(key))) != 0 {
		return errors.New("guest: kv delete failed")
	}
	return nil
}

// Fetch makes an HTTP request through the host, to a host on the plugin's
// allowlist. Capability: http.
func Fetch(method, url string, headers [][2]string, body []byte) (*HTTPResponse, error) {
	req := encodeFetch(method, url, headers, body)
	buf := make([]byte, 64<<10)
	for {
		n := hostFetch(ptr(req), int32(len(req)), ptr(buf), int32(len(buf)))
		switch {
		case n < 0:
			return nil, errors.New(string(buf[:min(int(-n), len(buf))]))
		case int(n) > len(buf):
			buf = make([]byte, n) // the host kept the answer: ask again with room for it
			req = req[:0]
			continue
		}
		return decodeFetch(buf[:n])
	}
}

// Publish publishes data as an event on subject. Capability: events.
func Publish(subject string, data []byte) error {
	if hostPublish(sptr(subject), int32(len(subject)), ptr(data), int32(len(data))) != 0 {
		return errors.New("guest: publish failed")
	}
	return nil
}
