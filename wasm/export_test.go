package wasm

import (
	"context"
	"net/http"
)

// Instantiate makes one more instance of a provisioned plugin, as its pool
// does, and returns the size of its linear memory and a func that closes
// it: for the instance benchmarks.
func Instantiate(ctx context.Context, p *Plugin) (memBytes uint32, closeFn func(), err error) {
	in, err := p.pool.instantiate(ctx)
	if err != nil {
		return 0, nil, err
	}
	return in.mem.Size(), func() { in.close(ctx) }, nil
}

// ApplyResult is applyResult, for the fuzz test.
var ApplyResult = applyResult

var _ = http.Header{}
