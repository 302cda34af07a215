// Package abi is the wire format between a ply host and its WebAssembly
// guests, version [Version]: the manifest a guest describes itself with,
// the options the host hands it, and the request and result of each layer
// call. It is the one piece the host ([github.com/plykit/ply/wasm]) and the
// Go guest kit ([github.com/plykit/ply/wasm/guest]) share, so it imports
// only the standard library and uses no reflection: every message is a
// sequence of unsigned varints, zig-zag varints, single bytes and
// length-prefixed byte strings, read and written in one pass.
//
// docs/wasm-abi.md in the repository describes the exports, the imports and
// every message field by field. A [Reader] never panics and never reads
// past its input: a malformed message is an error ([ErrShort],
// [ErrTooLong] or [ErrBad]).
package abi

import (
	"encoding/binary"
	"errors"
	"math"
)

// Version is the ABI version this package speaks. A guest reports its own
// from the ply_abi export; the host refuses a module whose version differs.
const Version = 1

// Errors a [Reader] reports. Each is wrapped with the field being read.
var (
	ErrShort   = errors.New("abi: message ends early")
	ErrTooLong = errors.New("abi: length exceeds the message")
	ErrBad     = errors.New("abi: malformed value")
)

// Reader reads one message. The zero Reader is an empty message. Byte
// strings it returns alias the message: copy them to keep them.
type Reader struct {
	b   []byte
	err error
}

// NewReader returns a Reader of b.
func NewReader(b []byte) Reader { return Reader{b: b} }

// Err returns the first error met, or nil.
func (r *Reader) Err() error { return r.err }

// Len returns the bytes left.
func (r *Reader) Len() int { return len(r.b) }

func (r *Reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if len(r.b) < 1 {
		r.fail(ErrShort)
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

// Uvarint reads an unsigned varint. It and Varint are written out twice on
// purpose: a generic helper taking the decode func makes the Reader escape,
// an allocation per call on the host's hot path (TestReaderAllocatesNothing).
func (r *Reader) Uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	switch {
	case n == 0:
		r.fail(ErrShort)
		return 0
	case n < 0:
		r.fail(ErrBad)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Varint reads a zig-zag signed varint.
func (r *Reader) Varint() int64 {
	v, n := binary.Varint(r.b)
	switch {
	case n == 0:
		r.fail(ErrShort)
		return 0
	case n < 0:
		r.fail(ErrBad)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Count reads a count of items that each take at least min bytes: a count
// the rest of the message cannot hold is [ErrTooLong], so a caller can
// size a slice by it safely.
func (r *Reader) Count(minSize int) int {
	n := r.Uvarint()
	if r.err != nil {
		return 0
	}
	if n > uint64(len(r.b)/max(minSize, 1)) {
		r.fail(ErrTooLong)
		return 0
	}
	return int(n) //nolint:gosec // n <= len(r.b), checked above
}

// Bytes reads a length-prefixed byte string, aliasing the message.
func (r *Reader) Bytes() []byte {
	n := r.Uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail(ErrTooLong)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// String reads a length-prefixed string (a copy).
func (r *Reader) String() string { return string(r.Bytes()) }

// Float reads a float64 (8 bytes, little endian).
func (r *Reader) Float() float64 {
	if len(r.b) < 8 {
		r.fail(ErrShort)
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

// Writer appends to a byte slice. It never fails: Bytes returns what was
// written.
type Writer struct{ b []byte }

// NewWriter returns a Writer that appends to b[:0], reusing its storage.
func NewWriter(b []byte) Writer { return Writer{b: b[:0]} }

// Bytes returns the message written so far.
func (w *Writer) Bytes() []byte { return w.b }

// Byte appends one byte.
func (w *Writer) Byte(v byte) { w.b = append(w.b, v) }

// Bool appends a byte, 1 for true.
func (w *Writer) Bool(v bool) {
	if v {
		w.b = append(w.b, 1)
		return
	}
	w.b = append(w.b, 0)
}

// Uvarint appends an unsigned varint.
func (w *Writer) Uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }

// Varint appends a zig-zag signed varint.
func (w *Writer) Varint(v int64) { w.b = binary.AppendVarint(w.b, v) }

// Float appends a float64 (8 bytes, little endian).
func (w *Writer) Float(v float64) { w.b = binary.LittleEndian.AppendUint64(w.b, math.Float64bits(v)) }

// BytesField appends a length-prefixed byte string.
func (w *Writer) BytesField(v []byte) {
	w.Uvarint(uint64(len(v)))
	w.b = append(w.b, v...)
}

// String appends a length-prefixed string.
func (w *Writer) String(v string) {
	w.Uvarint(uint64(len(v)))
	w.b = append(w.b, v...)
}

// Raw appends s as it is, without a length: the caller wrote the length.
func (w *Writer) Raw(s string) { w.b = append(w.b, s...) }
