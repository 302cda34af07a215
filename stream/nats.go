package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// FromNATS streams the messages of the JetStream consumer c, each decoded
// from JSON into a T, in the order c delivers them. Each range over the
// stream reads from c until the loop ends or ctx is done.
//
// Flow control: at most buffer messages (>= 1) are pulled ahead of the
// loop body, and the consumer's MaxAckPending bounds what the server sends.
// Acknowledgement: a message is acknowledged when the loop body returns
// from handling it and asks for the next one, so a crash redelivers what
// was not handled (at least once). The message in hand when the loop ends
// early, and those pulled ahead of it, are negatively acknowledged, to be
// redelivered at once.
//
// The stream ends with an error pair when ctx is done, when c fails (missed
// heartbeats are not a failure: the pull is renewed), or when a message
// cannot be decoded (that message is terminated so it is not
// redelivered; the error matches [ErrDecode] and wraps encoding/json's
// error, such as a *json.SyntaxError).
func FromNATS[T any](ctx context.Context, c jetstream.Consumer, buffer int) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		if buffer < 1 {
			yield(zero, fmt.Errorf("stream: FromNATS with buffer %d: must be >= 1", buffer))
			return
		}
		it, err := c.Messages(jetstream.PullMaxMessages(buffer), jetstream.PullExpiry(pullExpiry),
			jetstream.WithMessagesErrOnMissingHeartbeat(false))
		if err != nil {
			yield(zero, fmt.Errorf("stream: consume: %w", err))
			return
		}
		defer release(it)
		for {
			m, err := it.Next(jetstream.NextContext(ctx))
			if err != nil {
				if ctx.Err() != nil {
					err = context.Cause(ctx)
				}
				yield(zero, err)
				return
			}
			var v T
			if err := json.Unmarshal(m.Data(), &v); err != nil {
				_ = m.Term() // a malformed message would fail every time; the error below reports it
				yield(zero, fmt.Errorf("stream: %s message %s: %w: %w", m.Subject(), seqOf(m), ErrDecode, err))
				return
			}
			if !yield(v, nil) {
				_ = m.Nak() // not acknowledged: redelivered after ack wait anyway
				return
			}
			if err := m.Ack(); err != nil {
				yield(zero, fmt.Errorf("stream: ack: %w", err))
				return
			}
		}
	}
}

// pullExpiry bounds each pull request FromNATS keeps open, and so how long
// a stalled pull lasts: the server's idle heartbeats come every half of it,
// and two missed ones make the iterator pull again. A pull can stall when
// the client's count of what it awaits drifts from the server's (seen under
// load; nats-io/nats.go#1622), and a missed heartbeat is not an error of the
// stream: with the default 30s expiry, one stall failed it after 30s.
const pullExpiry = 5 * time.Second

// release stops it and hands back, with a negative acknowledgement, the
// messages it had pulled ahead of the loop: they are redelivered at once,
// not after the ack wait.
func release(it jetstream.MessagesContext) {
	it.Drain()
	for {
		m, err := it.Next(jetstream.NextMaxWait(time.Second))
		if err != nil {
			return // ErrMsgIteratorClosed: nothing left
		}
		_ = m.Nak()
	}
}

func seqOf(m jetstream.Msg) string {
	md, err := m.Metadata()
	if err != nil {
		return "?"
	}
	return fmt.Sprint(md.Sequence.Stream)
}

// ToNATS publishes every value of seq, encoded as JSON, to subject through
// js, in order, and returns how many the stream acknowledged. Flow control:
// at most window publishes (>= 1) await their acknowledgement; ToNATS
// stops reading seq while the window is full. It returns once every
// publish was acknowledged, or with the first error: an error pair of seq
// (returned as is), a value encoding/json cannot encode (wrapping its
// error, such as a *json.UnsupportedTypeError), a failed publish, or ctx's
// error. Publishes still in
// flight when it returns early may yet be stored.
func ToNATS[T any](ctx context.Context, js jetstream.JetStream, subject string, seq iter.Seq2[T, error], window int) (int, error) {
	if window < 1 {
		return 0, fmt.Errorf("stream: ToNATS with window %d: must be >= 1", window)
	}
	var (
		pending []jetstream.PubAckFuture
		acked   int
	)
	wait := func() error { // the oldest pending publish
		f := pending[0]
		pending = pending[1:]
		select {
		case <-f.Ok():
			acked++
			return nil
		case err := <-f.Err():
			return fmt.Errorf("stream: publish %s: %w", subject, err)
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	for v, err := range seq {
		if err != nil {
			return acked, err
		}
		data, err := json.Marshal(v)
		if err != nil {
			return acked, fmt.Errorf("stream: encode %T: %w", v, err)
		}
		for len(pending) >= window {
			if err := wait(); err != nil {
				return acked, err
			}
		}
		f, err := js.PublishAsync(subject, data)
		if err != nil {
			return acked, fmt.Errorf("stream: publish %s: %w", subject, err)
		}
		pending = append(pending, f)
	}
	for len(pending) > 0 {
		if err := wait(); err != nil {
			return acked, err
		}
	}
	return acked, nil
}

// ErrDecode means a message's data is not the JSON of the stream's type.
var ErrDecode = errors.New("stream: cannot decode message")
