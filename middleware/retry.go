package middleware

import (
	"bytes"
	"cmp"
	"errors"
	"io"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// RetryOptions configures [NewRetry]. The zero value makes up to 3 attempts on 502,
// 503 and 504, waiting about 100ms, then 200ms, and replays bodies of up to 1 MiB.
type RetryOptions struct {
	// MaxAttempts is the number of times the inner chain may run, the first included.
	// Default 3.
	MaxAttempts int `json:"maxAttempts,omitempty" jsonschema:"minimum=1,maximum=10"`
	// InitialInterval is the wait before the second attempt; each later wait is
	// Multiplier times longer, up to MaxInterval, with ±50% jitter. Default 100ms.
	InitialInterval time.Duration `json:"initialInterval,omitempty" jsonschema:"minimum=0"`
	// MaxInterval caps the wait between attempts. Default 2s.
	MaxInterval time.Duration `json:"maxInterval,omitempty" jsonschema:"minimum=0"`
	// Multiplier grows the wait between attempts. Default 2.
	Multiplier float64 `json:"multiplier,omitempty" jsonschema:"minimum=1"`
	// MaxBodyBytes is the largest request body buffered for replay; a request with a
	// larger body runs once. Default 1 MiB.
	MaxBodyBytes int64 `json:"maxBodyBytes,omitempty" jsonschema:"minimum=1"`
	// Statuses are the response statuses that are retried. Default 502, 503, 504.
	Statuses []int `json:"statuses,omitempty" jsonschema:"minimum=500,maximum=599"`
}

// Validate reports what the schema cannot: a multiplier that is not a number
// (NaN, ±Inf), as an [*option.Error].
func (o RetryOptions) Validate() error {
	var p problems
	if math.IsNaN(o.Multiplier) || math.IsInf(o.Multiplier, 0) {
		p.add("multiplier", "must be a finite number >= 1, got %v", o.Multiplier)
	}
	return p.err()
}

var errRetryableStatus = errors.New("retryable status")

// NewRetry returns a layer that runs the inner chain again, with exponential backoff
// and jitter (cenkalti/backoff/v5), while it answers one of Statuses, up to
// MaxAttempts times in all. Only idempotent requests are retried: GET, HEAD, OPTIONS,
// PUT and DELETE, and any request with an Idempotency-Key header. Panics are not
// retried.
//
// The request body is buffered (up to MaxBodyBytes) and replayed to each attempt.
// An attempt's response is held back until its status is known: one with a status
// that will be retried is buffered and discarded, any other (and every response of
// the last attempt) goes straight to the client, so only one response is sent and
// successful responses stream. If the request's context ends while waiting, the last
// failed response is sent. Interim responses (1xx) of every attempt go to the client.
// Before the last attempt, the inner chain cannot hijack the connection until its
// status shows it is not retried: Hijack fails with [http.ErrNotSupported].
func NewRetry(opts RetryOptions) (func(http.Handler) http.Handler, error) {
	if err := checked("retry", opts); err != nil {
		return nil, err
	}
	attempts := cmp.Or(opts.MaxAttempts, 3)
	initial := cmp.Or(opts.InitialInterval, 100*time.Millisecond)
	maxInterval := cmp.Or(opts.MaxInterval, 2*time.Second)
	multiplier := cmp.Or(opts.Multiplier, 2)
	maxBody := cmp.Or(opts.MaxBodyBytes, 1<<20)
	statuses := opts.Statuses
	if len(statuses) == 0 {
		statuses = []int{http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}
	}
	final := func(status int) bool { return !slices.Contains(statuses, status) } // not retried: the client's
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if attempts == 1 || !idempotent(r) {
				next.ServeHTTP(w, r)
				return
			}
			var body []byte
			if r.Body != nil && r.Body != http.NoBody {
				var err error
				body, err = io.ReadAll(io.LimitReader(r.Body, maxBody+1))
				if err != nil {
					WriteProblem(w, http.StatusBadRequest, "reading request body")
					return
				}
				if int64(len(body)) > maxBody { // too large to replay: run once
					r.Body = struct {
						io.Reader
						io.Closer
					}{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
					next.ServeHTTP(w, r)
					return
				}
			}
			attempt := 0
			op := func() (*recordedResponse, error) {
				attempt++
				req := r.WithContext(r.Context())
				if body != nil {
					req.Body = io.NopCloser(bytes.NewReader(body))
					req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
				}
				if attempt == attempts {
					next.ServeHTTP(w, req)
					return nil, nil
				}
				// The attempt's response is recorded until its status shows whether it
				// is retried; one that is not streams to the client from there.
				rec := newRecorder(w)
				rec.s.pass = final
				next.ServeHTTP(rec, req)
				if rec.Status() == 0 { // the handler wrote nothing: an empty 200
					rec.WriteHeader(http.StatusOK)
				}
				if rec.s.streaming {
					return nil, nil
				}
				return rec.result(), errRetryableStatus
			}
			b := &backoff.ExponentialBackOff{
				InitialInterval:     initial,
				RandomizationFactor: 0.5,
				Multiplier:          multiplier,
				MaxInterval:         maxInterval,
			}
			res, _ := backoff.Retry(r.Context(), op,
				backoff.WithBackOff(b), backoff.WithMaxTries(uint(attempts)), backoff.WithMaxElapsedTime(0))
			if res != nil {
				res.writeTo(w)
			}
		})
	}, nil
}

// idempotent reports whether r may be sent again without changing its effect.
func idempotent(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return r.Header.Get("Idempotency-Key") != ""
}
