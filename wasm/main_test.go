package wasm_test

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/plykit/ply/internal/wasmtest"
)

// The guests, built once per test binary (and cached across runs by
// wasmtest) before any test runs.
var hostileWasm, denylistWasm string

func TestMain(m *testing.M) {
	var wg sync.WaitGroup
	var errs [2]error
	wg.Go(func() { hostileWasm, errs[0] = wasmtest.Build("testdata/hostile") })
	wg.Go(func() { denylistWasm, errs[1] = wasmtest.Build("../examples/wasm/denylist") })
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			fmt.Fprintln(os.Stderr, err) //nolint:forbidigo // TestMain has no t to report with
			os.Exit(1)                   //nolint:forbidigo // TestMain has no t to fail with
		}
	}
	goleak.VerifyTestMain(m)
}
