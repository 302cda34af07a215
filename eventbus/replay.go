package eventbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plykit/ply/internal/placement"
)

// decodeEvent decodes an event as it travels on NATS, JSON, into a T: the
// decoding of every event that comes from another process.
func decodeEvent[T any](data []byte) (T, error) {
	var v T
	err := json.Unmarshal(data, &v)
	return v, err
}

// A Position is where a [Replay] starts: [FromSequence] or [FromTime].
type Position struct {
	seq uint64
	t   time.Time
}

// FromSequence starts a replay at the stream sequence seq (1 is the
// first; a sequence no longer stored starts at the first one kept).
func FromSequence(seq uint64) Position { return Position{seq: max(seq, 1)} }

// FromTime starts a replay at the first event stored at or after t.
func FromTime(t time.Time) Position { return Position{t: t} }

// Stored is an event read back from its stream by [Replay].
type Stored[T any] struct {
	Event    T
	Subject  string    // the topic's subject it was published on
	Sequence uint64    // its sequence in the stream: resume with FromSequence(Sequence+1)
	Time     time.Time // when the stream stored it
	ID       string    // its message ID (see [Identifier])
}

// replayBatch is how many events a replay asks for at a time.
const replayBatch = 256

// Replay reads back the events of a [Durable] topic (or of a wildcard
// topic's subjects) that its stream holds, oldest first, from position
// from up to the last one stored when Replay began; events published
// meanwhile are not included. It reads through an ephemeral consumer of
// the stream, removed at the end, on the bus's connection ([WithConn]).
//
// Each element is an event and nil, or an error: one that does not decode
// into T (the sequence goes on if the loop continues), or one that ends
// the replay: [ErrNoConn], no stream holding the subject
// ([jetstream.ErrStreamNotFound]), ctx done, the server's error, or events
// the stream stopped delivering for 5 s (removed meanwhile, or a cluster
// that lost its quorum): a replay never ends short silently. A cluster
// electing a leader is waited for, as by a durable publish.
// Breaking out of the loop stops the replay.
func Replay[T any](ctx context.Context, b *Bus, topic Topic[T], from Position) iter.Seq2[Stored[T], error] {
	return func(yield func(Stored[T], error) bool) {
		if topic.st == nil {
			yield(Stored[T]{}, ErrZeroTopic)
			return
		}
		if b.js == nil {
			yield(Stored[T]{}, ErrNoConn)
			return
		}
		subject := topic.st.subject
		stream, err := retrying(ctx, func(ctx context.Context) (string, error) { return b.js.StreamNameBySubject(ctx, subject) })
		if err != nil {
			yield(Stored[T]{}, fmt.Errorf("eventbus: replay %s: %w", subject, err))
			return
		}
		cfg := jetstream.ConsumerConfig{
			FilterSubject:     subject,
			AckPolicy:         jetstream.AckNonePolicy,
			InactiveThreshold: time.Minute, // the server removes it if this process dies first
			MemoryStorage:     true,
		}
		switch {
		case !from.t.IsZero():
			cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &from.t
		case from.seq > 1:
			cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from.seq
		default:
			cfg.DeliverPolicy = jetstream.DeliverAllPolicy
		}
		cons, err := retrying(ctx, func(ctx context.Context) (jetstream.Consumer, error) { return b.js.CreateConsumer(ctx, stream, cfg) })
		if err != nil {
			yield(Stored[T]{}, fmt.Errorf("eventbus: replay %s from stream %s: %w", subject, stream, err))
			return
		}
		defer func() { // best effort: the inactive threshold removes it otherwise
			_ = b.js.DeleteConsumer(context.WithoutCancel(ctx), stream, cons.CachedInfo().Name)
		}()
		left := cons.CachedInfo().NumPending
		idle := time.Now() // the last batch that brought events
		for left > 0 {
			fctx, cancel := context.WithTimeout(ctx, attemptTimeout)
			batch, err := cons.Fetch(int(min(left, replayBatch)), jetstream.FetchContext(fctx))
			if err != nil {
				cancel()
				yield(Stored[T]{}, fmt.Errorf("eventbus: replay %s: %w", subject, err))
				return
			}
			n := 0
			for m := range batch.Messages() {
				n++
				left--
				md, err := m.Metadata()
				if err != nil {
					if !yield(Stored[T]{}, fmt.Errorf("eventbus: replay %s: %w", subject, err)) {
						cancel()
						return
					}
					continue
				}
				s := Stored[T]{Subject: m.Subject(), Sequence: md.Sequence.Stream, Time: md.Timestamp, ID: m.Headers().Get(jetstream.MsgIDHeader)}
				if s.Event, err = decodeEvent[T](m.Data()); err != nil {
					err = fmt.Errorf("eventbus: replay %s: decode the event at sequence %d: %w", subject, s.Sequence, err)
					if !yield(s, err) {
						cancel()
						return
					}
					continue
				}
				if !yield(s, nil) {
					cancel()
					return
				}
			}
			cancel()
			if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
				yield(Stored[T]{}, fmt.Errorf("eventbus: replay %s: %w", subject, err))
				return
			}
			if err := ctx.Err(); err != nil {
				yield(Stored[T]{}, fmt.Errorf("eventbus: replay %s: %w", subject, err))
				return
			}
			if n > 0 {
				idle = time.Now()
			} else if time.Since(idle) > retryFor {
				yield(Stored[T]{}, fmt.Errorf("eventbus: replay %s: %d events not delivered by the stream for %v (removed meanwhile, or the cluster is unavailable)", subject, left, retryFor))
				return
			}
		}
	}
}

// retrying calls try, each time with attemptTimeout, until it succeeds,
// fails with an error that waiting cannot fix, or ctx's deadline (or,
// without one, retryFor) passes: a cluster that lost a server does not
// answer for a while, or answers that it is electing a leader.
func retrying[T any](ctx context.Context, try func(context.Context) (T, error)) (T, error) {
	deadline, bounded := ctx.Deadline()
	if !bounded {
		deadline = time.Now().Add(retryFor)
	}
	wait := 50 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		v, err := try(actx)
		cancel()
		if err == nil || ctx.Err() != nil || !transient(err) && !placement.Transient(err) || time.Now().Add(wait).After(deadline) {
			return v, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		wait = min(2*wait, time.Second)
	}
}
