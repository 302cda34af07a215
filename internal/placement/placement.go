// Package placement creates JetStream assets (streams, key-value and object
// buckets) on a cluster that may not be able to place them yet.
//
// A cluster answers JetStream requests as soon as it has a meta leader, but
// the leader places a replicated asset only on servers it has heard from:
// just after the cluster formed, after a leader change or while a server
// restarts, creating a stream with 3 replicas fails with "no suitable peers
// for placement" for a moment, then succeeds. Callers that create their
// assets at start-up ride that out with [Create] instead of failing the
// host.
package placement

import (
	"context"
	"errors"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Settle bounds how long [Create] waits for a cluster to place an asset. A
// cluster that is merely forming settles in a few seconds; one that lacks
// servers for good (3 replicas asked of a 2-server cluster) should be
// reported, not waited on.
const Settle = 15 * time.Second

// JetStream API error codes that a settling cluster returns and a settled
// one does not (nats-server's jetstream_errors_generated.go).
const (
	errNoPeers      jetstream.ErrorCode = 10005 // JSClusterNoPeersErrF: "no suitable peers for placement"
	errUnavailable  jetstream.ErrorCode = 10008 // JSClusterNotAvailErr: "JetStream system temporarily unavailable"
	errNotLeaderYet jetstream.ErrorCode = 10009 // JSClusterNotLeaderErr: "JetStream cluster can not handle request"
)

// Create calls create until it succeeds, fails with an error waiting cannot
// fix, ctx ends or [Settle] has passed, backing off between calls. A
// request that went unanswered in its own time (a leader election) is
// tried again too. It
// returns create's last result and error, so a caller's error names the
// cluster's reason.
func Create[T any](ctx context.Context, create func(context.Context) (T, error)) (T, error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 50 * time.Millisecond
	b.MaxInterval = time.Second
	var last error
	v, err := backoff.Retry(ctx, func() (T, error) {
		v, err := create(ctx)
		last = err
		if err != nil && !Transient(err) && !unanswered(ctx, err) {
			return v, backoff.Permanent(err)
		}
		return v, err
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(Settle))
	if err != nil && last != nil && !errors.Is(err, last) {
		// ctx ended while waiting: say what the cluster answered last.
		return v, errors.Join(err, last)
	}
	return v, err
}

// Transient reports whether err is one a settling cluster returns.
func Transient(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode {
	case errNoPeers, errUnavailable, errNotLeaderYet:
		return true
	}
	return false
}

// unanswered reports whether err says that a request got no answer in its
// own time while ctx goes on: during a leader election JetStream requests
// go unanswered for seconds, and the next one is answered.
func unanswered(ctx context.Context, err error) bool {
	return ctx.Err() == nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders))
}
