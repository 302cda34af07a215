package abi_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply/wasm/abi"
)

// FuzzDecodeManifest: any bytes decode without a panic, and what decodes
// encodes back to bytes that decode to the same manifest.
func FuzzDecodeManifest(f *testing.F) {
	lo, hi := 1.0, 10.0
	for _, m := range []*abi.Manifest{
		{ABI: 1, Name: "denylist", Version: "1.0.0", Priority: 100, Kinds: []string{"http"}},
		{ABI: 1, Name: "x", Version: "0.1.0", Requires: []abi.Dependency{{Name: "auth", Constraint: "^1", Optional: true}},
			Before: []string{"a"}, After: []string{"b", "c"}, Body: true,
			Options: []abi.Field{{Name: "deny", Type: abi.TypeStrings, Required: true, Min: &lo, Max: &hi},
				{Name: "mode", Type: abi.TypeString, Enum: []string{"a", "b"}, Pattern: "^[ab]$", Description: "d"}}},
	} {
		f.Add(abi.AppendManifest(nil, m))
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := abi.DecodeManifest(b)
		if err != nil {
			return
		}
		again, err := abi.DecodeManifest(abi.AppendManifest(nil, m))
		if err != nil {
			t.Fatalf("re-encoded manifest does not decode: %v", err)
		}
		if diff := cmp.Diff(m, again); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

// FuzzReader: every read on any input stays within it, and an error
// sticks.
func FuzzReader(f *testing.F) {
	f.Add([]byte{3, 'a', 'b', 'c', 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := abi.NewReader(b)
		for r.Len() > 0 && r.Err() == nil {
			before := r.Len()
			switch before % 5 {
			case 0:
				r.Byte()
			case 1:
				r.Uvarint()
			case 2:
				r.Varint()
			case 3:
				if got := r.Bytes(); len(got) > before {
					t.Fatalf("Bytes returned %d bytes of %d", len(got), before)
				}
			case 4:
				r.Count(2)
			}
			if r.Err() == nil && r.Len() >= before {
				t.Fatalf("a read consumed nothing: %d -> %d", before, r.Len())
			}
		}
		if r.Err() != nil && r.Len() != 0 {
			t.Fatalf("after an error %d bytes are left", r.Len())
		}
	})
}
