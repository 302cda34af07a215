package middleware

import (
	"cmp"
	"context"
	"net/http"
	"time"

	"golang.org/x/sync/semaphore"
)

// BulkheadOptions configures [NewBulkhead]. The zero value lets 100 requests run at
// once and rejects the others at once.
type BulkheadOptions struct {
	// MaxConcurrent is the number of requests that may run the inner chain at once.
	// Default 100.
	MaxConcurrent int64 `json:"maxConcurrent,omitempty" jsonschema:"minimum=1"`
	// MaxWait is how long a request waits for a slot when all are taken. Default 0:
	// it is rejected at once.
	MaxWait time.Duration `json:"maxWait,omitempty" jsonschema:"minimum=0"`
}

// NewBulkhead returns a layer that lets at most MaxConcurrent requests run the inner
// chain at once (golang.org/x/sync/semaphore). A request that finds no free slot
// within MaxWait, or whose context ends while it waits, gets 503 with Retry-After: 1.
// Waiting requests get slots in arrival order.
func NewBulkhead(opts BulkheadOptions) (func(http.Handler) http.Handler, error) {
	if err := checked("bulkhead", opts); err != nil {
		return nil, err
	}
	sem := semaphore.NewWeighted(cmp.Or(opts.MaxConcurrent, 100))
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !sem.TryAcquire(1) && !acquire(r.Context(), sem, opts.MaxWait) {
				w.Header().Set("Retry-After", "1")
				WriteProblem(w, http.StatusServiceUnavailable, "too many concurrent requests")
				return
			}
			defer sem.Release(1)
			next.ServeHTTP(w, r)
		})
	}, nil
}

// acquire waits up to wait for a slot.
func acquire(ctx context.Context, sem *semaphore.Weighted, wait time.Duration) bool {
	if wait <= 0 {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return sem.Acquire(ctx, 1) == nil
}
