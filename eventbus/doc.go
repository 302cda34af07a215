// Package eventbus delivers typed events between plugins: in process,
// synchronously or asynchronously, and across processes over NATS.
//
// # Topics
//
// A [Topic] names events of one Go type by a NATS subject, the event's
// stable name on the wire:
//
//	var OrderCreated = eventbus.NewTopic[Order]("orders.created")
//
// Subscribers may use NATS wildcards: "orders.*" matches one token,
// "orders.>" one or more. A wildcard subscriber of another type than the
// published topic receives the event converted through JSON.
//
// # Synchronous delivery
//
// [Subscribe] registers a handler that [Publish] calls in the publisher's
// goroutine, by [WithPriority] (lower first, as ply's plugin priorities)
// and then subscription order. A handler may veto the event by returning
// an error wrapping [ErrVeto]: delivery stops and Publish returns it. Other
// errors are joined, and a panic is recovered as a *ply.PanicError; neither
// stops the other subscribers. Publish reads the subscriptions from an
// immutable snapshot (copy on write), so subscribing never blocks
// publishing, and in steady state a publish allocates nothing.
//
// # Asynchronous delivery
//
// [SubscribeAsync] gives a handler its own goroutine and a bounded buffer
// ([WithBuffer], [DefaultBuffer] events). [Publish] and [PublishAsync]
// queue the event and return; when a buffer is full, the subscription's
// [Policy] applies: [Block] the publisher until there is room or its
// context is done (backpressure, the default), or [DropOldest] /
// [DropNewest], which count each drop ([Subscription.Dropped]) and log it.
// A slow asynchronous subscriber never delays the others, except that under
// Block its full buffer holds up the publisher, and so the delivery of that
// event to the subscribers after it.
//
// # Context and trace context
//
// A synchronous handler receives the publisher's context. An asynchronous
// handler receives a context with the publisher's values, its OpenTelemetry
// span context among them (a span the handler starts is a child of the
// publisher's), as [context.WithoutCancel] would keep them, but not the
// publisher's deadline or cancellation: the handler outlives the publish.
// Its cancellation is the subscription's ([Subscription.Stop]). Values
// that only make sense during the publisher's call (a request's writer)
// must not be used by an asynchronous handler. Carrying them costs one
// small allocation per event on the subscriber's goroutine, none when the
// publisher's context is [context.Background] or [context.TODO].
//
// Across NATS, only what a propagator carries crosses: a publish injects
// the trace context into the message's headers and a [Remote]
// subscription's handler extracts it, with the propagator of
// [WithPropagator], or else the global one
// ([go.opentelemetry.io/otel.GetTextMapPropagator]).
// The bus starts no spans of its own; handlers and ply's tracing layers
// do.
//
// # Across processes
//
// A bus created [WithConn] also sends every event to NATS as JSON on its
// topic's subject: core NATS by default, JetStream for a [Durable] topic
// (Publish then waits for the stream to store it). A subscription made with
// [Remote] receives the events of every process from NATS.
//
// # Durable events
//
// A durable publish carries a message ID (the Nats-Msg-Id header): the
// event's own, when its type implements [Identifier], or a unique one per
// [Publish]. The stream stores one message per ID within its duplicate
// window, so Publish tries again with the same ID when no answer came (an
// answer lost with a server) or no stream answered (a leader election),
// until ctx's deadline or for a few seconds; an event not stored fails
// with [ErrNotStored], never silently. [Replay] reads a durable topic
// back from a [FromSequence] or [FromTime] position.
//
// # Subscriptions
//
// Every subscription is a [*Subscription] handle: [Subscription.Stop] ends
// it at once, [Subscription.Drain] after handling what it holds, and
// [Subscription.Done] reports that its handler will not run again.
// [Bus.Close] drains them all.
package eventbus
