package abi_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/plykit/ply/wasm/abi"
)

// A manifest is outside input for a host and for a registry: decoding
// never panics, and what decodes encodes back to the same manifest.
func FuzzDecodeManifest(f *testing.F) {
	lo, hi := 1.0, 9.0
	f.Add(abi.AppendManifest(nil, &abi.Manifest{ABI: 1, Name: "greeter", Version: "1.0.0", Priority: -3, Kinds: []string{"http"},
		Requires: []abi.Dependency{{Name: "tagger", Constraint: "^1", Optional: true}}, Before: []string{"a"}, After: []string{"b"},
		Options: []abi.Field{{Name: "n", Type: abi.TypeInt, Min: &lo, Max: &hi, Required: true}, {Name: "s", Type: abi.TypeString, Enum: []string{"x"}, Pattern: "^x$"}},
		Body:    true}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := abi.DecodeManifest(b)
		if err != nil {
			return
		}
		again, err := abi.DecodeManifest(abi.AppendManifest(nil, m))
		if err != nil {
			t.Fatalf("a decoded manifest does not decode again: %v", err)
		}
		if diff := cmp.Diff(m, again, cmpopts.EquateNaNs()); diff != "" {
			t.Fatalf("round trip (-first +again):\n%s", diff)
		}
	})
}
