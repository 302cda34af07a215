//go:build wasip1

package guest

import (
	"unsafe"

	"github.com/plykit/ply/wasm/abi"
)

// in is where the host writes its messages (ply_buffer); out holds the
// guest's answers. Go's heap does not move, so their addresses stay valid.
var (
	in       []byte
	out      []byte
	manif    []byte
	request  Request
	response Response
)

func pack(b []byte) int64 {
	if len(b) == 0 {
		return 0
	}
	return int64(uintptr(unsafe.Pointer(&b[0])))<<32 | int64(len(b))
}

//go:wasmexport ply_abi
func plyABI() int32 { return abi.Version }

//go:wasmexport ply_buffer
func plyBuffer(size int32) int32 {
	if int(size) > cap(in) {
		in = make([]byte, size)
	}
	in = in[:cap(in)]
	return int32(uintptr(unsafe.Pointer(&in[0])))
}

//go:wasmexport ply_manifest
func plyManifest() int64 {
	if registered == nil {
		out = append(out[:0], errNoPlugin.Error()...)
		return -pack(out)
	}
	if manif == nil {
		manif = manifest(registered)
	}
	return pack(manif)
}

//go:wasmexport ply_init
func plyInit(n int32) int64 {
	if registered == nil {
		out = append(out[:0], errNoPlugin.Error()...)
		return pack(out)
	}
	if err := setOptions(registered, in[:n]); err != nil {
		out = append(out[:0], err.Error()...)
		return pack(out)
	}
	return 0
}

//go:wasmexport ply_start
func plyStart() int64 { return runHook(registered.Start) }

//go:wasmexport ply_stop
func plyStop() int64 { return runHook(registered.Stop) }

func runHook(fn func() error) int64 {
	if fn == nil {
		return 0
	}
	if err := fn(); err != nil {
		out = append(out[:0], err.Error()...)
		return pack(out)
	}
	return 0
}

//go:wasmexport ply_layer
func plyLayer(n int32) int64 {
	response.reset()
	if err := request.decode(in[:n]); err != nil {
		response.Fail("guest: bad request message: " + err.Error())
	} else {
		registered.Layer(&request, &response)
	}
	out = response.encode(out)
	return pack(out)
}
