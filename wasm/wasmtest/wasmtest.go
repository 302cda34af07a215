// Package wasmtest builds Go guests for tests outside package wasm (the
// marketplace's, for one), as wasm's own tests build theirs: once per
// source, kept under the system's temporary directory and named by the
// hash of the guest's sources, the guest kit's and the Go version.
package wasmtest

import "github.com/plykit/ply/wasm/internal/wasmtest"

// Build builds the guest in dir (a directory of this module, relative or
// absolute) with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared and returns
// the module's path. It is safe for concurrent use.
func Build(dir string) (string, error) { return wasmtest.Build(dir) }
