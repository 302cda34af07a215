package eventbus

import (
	"context"
	"errors"
	"fmt"

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

// sendAttempts is how many times a synchronous durable publish is tried,
// with the same message ID, when the server did not answer: the stream
// stores it once.
const sendAttempts = 3

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
	for i := 0; i < sendAttempts && !async; i++ {
		_, err = b.js.PublishMsg(ctx, m, jetstream.WithMsgID(id),
			jetstream.WithRetryAttempts(2)) // no responders: a stream electing a leader
		if err == nil || ctx.Err() != nil || !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("%w: %s (id %s): %w", ErrNotStored, m.Subject, id, err)
	}
	return nil
}
