// Package markettest builds the marketplace's test plugins and signs
// them, for the tests of the registry, the client and the command.
package markettest

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"aead.dev/minisign"

	"github.com/plykit/ply/internal/wasmtest"
)

// Guests are the test plugins, by directory under market/testdata:
// tagger 1.0.0, tagger2 (tagger 2.0.0) and greeter 1.0.0 (requires
// tagger ^1).
var Guests = []string{"tagger", "tagger2", "greeter"}

// Perf are the install benchmark's plugins: perf/app requires
// perf/dep1 … perf/dep5.
var Perf = []string{"perf/app", "perf/dep1", "perf/dep2", "perf/dep3", "perf/dep4", "perf/dep5"}

// Modules builds the test plugins (once per source, in parallel) and
// returns their bytes by directory name.
func Modules(t testing.TB) map[string][]byte {
	t.Helper()
	return Build(t, Guests...)
}

// Build builds the test plugins in dirs (under market/testdata), once per
// source, in parallel, and returns their bytes by directory name.
func Build(t testing.TB, dirs ...string) map[string][]byte {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "testdata")
	out := make(map[string][]byte, len(dirs))
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(dirs))
	for i, g := range dirs {
		wg.Go(func() {
			path, err := wasmtest.Build(filepath.Join(root, g))
			if err != nil {
				errs[i] = err
				return
			}
			b, err := os.ReadFile(path) //nolint:gosec // the test's own build
			mu.Lock()
			out[g], errs[i] = b, err
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// Key is a publisher's minisign key pair.
type Key struct {
	Public  minisign.PublicKey
	Private minisign.PrivateKey
}

// NewKey makes a key pair.
func NewKey(t testing.TB) Key {
	t.Helper()
	pub, priv, err := minisign.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return Key{pub, priv}
}
