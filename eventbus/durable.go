package eventbus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// ErrNotStored is returned (wrapped) when a durable event was not stored by its stream (no stream,
// no server answering in time, the connection down). The event was not
// saved; publishing it again with the same ID ([Identifier]) cannot store
// it twice within the stream's duplicate window.
var ErrNotStored = errors.New("eventbus: durable event not stored")

// Identifier is implemented by events that carry their own ID: a durable
// publish sends EventID as the message ID (the Nats-Msg-Id header), so the
// stream stores an event published twice with one ID once, within its
// duplicate window (two minutes unless the stream says otherwise). An
// event without one gets a unique ID per [Publish] call, which makes the
// bus's own retries safe, not the caller's.
type Identifier interface {
	EventID() string
}

// retryFor is how long a synchronous durable publish is tried again, with
// the same message ID, while no answer comes (lost with a server) or no
// stream answers (one electing a leader), when ctx has no deadline; with
// one, it is tried until the deadline. The stream stores it once.
const retryFor = 5 * time.Second

// attemptTimeout bounds one try of a durable publish: an answer lost with
// a server (the connection moves to another) is not waited for longer.
const attemptTimeout = 2 * time.Second

// eventID is v's own ID, or a new unique one.
func eventID(v any) string {
	if e, ok := v.(Identifier); ok {
		if id := e.EventID(); id != "" {
			return id
		}
	}
	return nuid.Next()
}

// sendDurable publishes m through JetStream with id as its message ID:
// asynchronously, or waiting for the stream's acknowledgement, trying again
// with the same ID when no answer came in time while ctx lasts.
func sendDurable(ctx context.Context, b *Bus, m *nats.Msg, id string, async bool) error {
	var err error
	if async {
		_, err = b.js.PublishMsgAsync(m, jetstream.WithMsgID(id))
	}
	deadline, bounded := ctx.Deadline()
	if !bounded {
		deadline = time.Now().Add(retryFor)
	}
	wait := 50 * time.Millisecond
	for !async {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		_, err = b.js.PublishMsg(actx, m, jetstream.WithMsgID(id))
		cancel()
		if err == nil || ctx.Err() != nil || !transient(err) || time.Now().Add(wait).After(deadline) {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		wait = min(2*wait, time.Second)
	}
	if err != nil {
		return fmt.Errorf("%w: %s (id %s): %w", ErrNotStored, m.Subject, id, err)
	}
	return nil
}

// transient reports whether a durable publish may succeed if tried again:
// no answer came (it was lost with a server), or no stream answered (one
// electing a leader, or none holds the subject).
func transient(err error) bool {
	return errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders)
}
