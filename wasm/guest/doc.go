// Package guest is the Go kit for writing ply plugins as WebAssembly
// modules, in ordinary Go, with the standard toolchain:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o denylist.wasm ./denylist
//
// A guest declares its plugin once — the same vocabulary as a native
// plugin's ply.Info, its options bound to variables, and a layer that
// continues the chain, responds or fails — and the kit exports the ABI
// (docs/wasm-abi.md) for it:
//
//	func init() {
//		guest.Register(guest.Plugin{
//			Name: "denylist", Version: "1.0.0", Priority: 100, Kinds: []string{"http"},
//			Options: []guest.Option{guest.Strings("deny", &deny, guest.Min(1))},
//			Layer: func(req *guest.Request, res *guest.Response) {
//				if slices.Contains(deny, req.Header("X-User")) {
//					res.Respond(403, []byte("denied\n"))
//				}
//			},
//		})
//	}
//
//	func main() {} // required by c-shared; never called
//
// # Capabilities
//
// [Log], [Now], [Random], [KVGet], [KVSet], [KVDelete], [Fetch] and
// [Publish] call the host. Each is a capability the operator must grant in
// ply.yaml: a module that uses one it was not granted does not load. A
// module imports only the functions it calls, so a plugin that never calls
// Fetch needs no http grant.
//
// The Go runtime itself needs WASI (clocks, random seed, stderr for a
// crash): the host always provides that, and it is not a ply capability —
// its clock is not the wall clock, which [Now] gives.
package guest
