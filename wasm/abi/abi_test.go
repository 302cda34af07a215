package abi_test

import (
	"testing"

	"github.com/plykit/ply/wasm/abi"
)

// The host decodes every call's result with a Reader on its stack: reading
// numbers, bytes and counts allocates nothing. (A helper shared by Uvarint
// and Varint that takes a decode func made the Reader escape, one
// allocation per call.)
func TestReaderAllocatesNothing(t *testing.T) {
	w := abi.NewWriter(nil)
	w.Uvarint(300)
	w.Varint(-7)
	w.Byte(1)
	w.BytesField([]byte("body"))
	w.Float(1.5)
	msg := w.Bytes()
	allocs := testing.AllocsPerRun(100, func() {
		r := abi.NewReader(msg)
		if r.Uvarint() != 300 || r.Varint() != -7 || r.Byte() != 1 || string(r.Bytes()) != "body" || r.Float() != 1.5 || r.Err() != nil {
			t.Fatal("the message did not read back")
		}
	})
	if allocs != 0 {
		t.Errorf("reading a message allocated %v times, want 0", allocs)
	}
}
