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
// failed response is sent. Before the last attempt, the inner chain cannot hijack
// the connection.
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
				aw := &attemptWriter{w: w, header: make(http.Header), retry: func(status int) bool { return slices.Contains(statuses, status) }}
				next.ServeHTTP(aw, req)
				if aw.rec != nil {
					return aw.rec.result(), errRetryableStatus
				}
				if !aw.passing { // the handler wrote nothing: an empty 200
					aw.WriteHeader(http.StatusOK)
				}
				return nil, nil
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

// attemptWriter holds back an attempt's response until its status shows whether the
// request will be retried: a response with a retryable status is recorded, any other
// is passed straight to the client.
type attemptWriter struct {
	w       http.ResponseWriter
	header  http.Header // until the status is known
	retry   func(status int) bool
	rec     *recorder // set when the status is retryable
	passing bool      // set when the response goes to the client
}

func (a *attemptWriter) Header() http.Header {
	switch {
	case a.passing:
		return a.w.Header()
	case a.rec != nil:
		return a.rec.header
	}
	return a.header
}

func (a *attemptWriter) WriteHeader(code int) {
	if !a.passing && a.rec == nil && code >= 200 {
		if a.retry(code) {
			a.rec = newRecorder()
			a.rec.under = a.w
			a.rec.header = a.header
		} else {
			h := a.w.Header()
			for k, v := range a.header {
				h[k] = v
			}
			a.passing = true
		}
	}
	switch {
	case a.passing:
		a.w.WriteHeader(code)
	case a.rec != nil:
		a.rec.WriteHeader(code)
	}
}

func (a *attemptWriter) Write(p []byte) (int, error) {
	if !a.passing && a.rec == nil {
		a.WriteHeader(http.StatusOK)
	}
	if a.passing {
		return a.w.Write(p)
	}
	return a.rec.Write(p)
}

// FlushError flushes a response that goes to the client; it does nothing for one
// that is recorded.
func (a *attemptWriter) FlushError() error {
	if !a.passing && a.rec == nil {
		a.WriteHeader(http.StatusOK)
	}
	if a.passing {
		return http.NewResponseController(a.w).Flush()
	}
	return nil
}

// Flush implements [http.Flusher].
func (a *attemptWriter) Flush() { _ = a.FlushError() }

// Unwrap returns the writer the attempt's response may go to, so code
// under the retry (a ply chain, http.ResponseController) can reach it.
func (a *attemptWriter) Unwrap() http.ResponseWriter { return a.w }
