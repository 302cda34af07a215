package abi_test

import (
	"fmt"

	"github.com/plykit/ply/wasm/abi"
)

// A message is written field by field and read back in the same order;
// a reader never reads past its message, and its first error sticks.
func ExampleReader() {
	w := abi.NewWriter(nil)
	w.String("GET")
	w.Uvarint(2)
	w.Varint(-7)
	msg := w.Bytes()

	r := abi.NewReader(msg)
	fmt.Println(r.String(), r.Uvarint(), r.Varint(), r.Err())

	short := abi.NewReader(msg[:2]) // "GET" cut short
	fmt.Println(short.String() == "", short.Err())
	// Output:
	// GET 2 -7 <nil>
	// true abi: length exceeds the message
}

// The manifest a guest exports, as the host decodes it.
func ExampleDecodeManifest() {
	b := abi.AppendManifest(nil, &abi.Manifest{ABI: abi.Version, Name: "denylist", Version: "1.0.0", Priority: 100,
		Kinds: []string{"http"}, Options: []abi.Field{{Name: "deny", Type: abi.TypeStrings, Required: true}}})
	m, err := abi.DecodeManifest(b)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Name, m.Version, m.Priority, m.Kinds, m.Options[0].Name, m.Options[0].Type, m.Options[0].Required)
	_, err = abi.DecodeManifest(b[:len(b)-1])
	fmt.Println(err)
	// Output:
	// denylist 1.0.0 100 [http] deny strings true
	// manifest: abi: message ends early
}
