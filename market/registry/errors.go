package registry

import (
	"errors"
	"fmt"
	"time"
)

// Errors of the registry, matched with errors.Is; the HTTP API answers
// each with its status.
var (
	ErrNotFound     = errors.New("not found")                                               // 404
	ErrExists       = errors.New("already exists")                                          // 409
	ErrUnauthorized = errors.New("a valid token is required (Authorization: Bearer TOKEN)") // 401
	ErrForbidden    = errors.New("forbidden")                                               // 403
	ErrBadRequest   = errors.New("bad request")                                             // 400
	ErrTooLarge     = errors.New("too large")                                               // 413
)

// RateError is a review refused by the rate limit.
type RateError struct {
	Wait time.Duration // how long until the account may review again
}

func (e *RateError) Error() string {
	return fmt.Sprintf("reviews are rate-limited: try again in %s", e.Wait.Round(time.Second))
}
