package wasm_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply/wasm"
)

// Inspect reads a module's manifest and the capabilities it imports
// without a host and without grants; what is not a ply module is refused.
func TestInspect(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "cache")
	for _, tt := range []struct {
		name, path string
		data       []byte
		wantName   string
		wantCaps   []string
		wantErr    error
	}{
		{name: "denylist", path: denylistWasm, wantName: "denylist"},
		{name: "hostile imports capabilities", path: hostileWasm, wantName: "hostile", wantCaps: []string{"clock", "events", "http", "kv", "log", "random"}},
		{name: "not wasm", data: []byte("#!/bin/sh\n"), wantErr: wasm.ErrModule},
		{name: "wasm, no ply exports", data: []byte("\x00asm\x01\x00\x00\x00"), wantErr: wasm.ErrModule},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.data
			if tt.path != "" {
				var err error
				if data, err = os.ReadFile(tt.path); err != nil {
					t.Fatal(err)
				}
			}
			m, caps, err := wasm.Inspect(t.Context(), tt.name, data, cache)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Inspect() error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			if m.Name != tt.wantName || m.ABI != 1 {
				t.Errorf("Inspect() manifest = %s ABI %d, want %s ABI 1", m.Name, m.ABI, tt.wantName)
			}
			if diff := cmp.Diff(tt.wantCaps, caps); diff != "" {
				t.Errorf("capabilities (-want +got):\n%s", diff)
			}
		})
	}
}
