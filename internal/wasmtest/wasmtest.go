// Package wasmtest builds Go guests for tests, once per source: a built
// module is kept under the system's temporary directory, named by the hash
// of its sources, the guest kit's and the Go version, so test binaries and
// runs share it and a change rebuilds it.
package wasmtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
)

var (
	mu    sync.Mutex
	built = map[string]string{}
)

// Build builds the guest in dir (a directory of the module, relative or
// absolute) with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared and returns
// the module's path.
func Build(dir string) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if p, ok := built[abs]; ok {
		return p, nil
	}
	root, err := moduleRoot(abs)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	_, _ = fmt.Fprintln(h, runtime.Version(), abs)
	for _, d := range []string{abs, filepath.Join(root, "wasm", "guest"), filepath.Join(root, "wasm", "abi")} {
		if err := hashDir(h, d); err != nil {
			return "", err
		}
	}
	cache := filepath.Join(os.TempDir(), "ply-wasm-guests")
	if err := os.MkdirAll(cache, 0o750); err != nil {
		return "", err
	}
	out := filepath.Join(cache, filepath.Base(abs)+"-"+hex.EncodeToString(h.Sum(nil))[:16]+".wasm")
	if _, err := os.Stat(out); err == nil {
		built[abs] = out
		return out, nil
	}
	tmp := out + ".tmp" + fmt.Sprint(os.Getpid())
	cmd := exec.CommandContext(context.Background(), goTool(), "build", "-buildmode=c-shared", "-o", tmp, ".") //nolint:gosec // the test's own toolchain and guest
	cmd.Dir = abs
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %w\n%s", dir, err, b)
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", err
	}
	built[abs] = out
	return out, nil
}

func moduleRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
	}
}

func hashDir(h interface{ Write([]byte) (int, error) }, dir string) error {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f) //nolint:gosec // the test's own sources
		if err != nil {
			return err
		}
		_, _ = fmt.Fprintf(h, "%s %d\n", f, len(b))
		_, _ = h.Write(b)
	}
	return nil
}

// goTool returns the go command: the one on PATH, else the toolchain's
// default install.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}
