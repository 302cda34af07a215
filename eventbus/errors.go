package eventbus

import "errors"

// Sentinel errors. Match them with [errors.Is].
var (
	// ErrVeto is wrapped by a synchronous subscriber's error to stop an
	// event: [Publish] delivers to no further subscriber, does not queue it
	// for asynchronous ones nor send it to NATS, and returns the error.
	ErrVeto = errors.New("eventbus: vetoed")
	// ErrDropped: an event was not delivered to an asynchronous subscriber
	// whose buffer was full under the [Block] policy before the publisher's
	// context was done. The drop is also counted by [Subscription.Dropped].
	ErrDropped = errors.New("eventbus: event dropped")
	// ErrWildcard: an event was published to a topic whose subject has a
	// wildcard ("orders.*", "orders.>"); such topics are for subscribing.
	ErrWildcard = errors.New("eventbus: publish to a wildcard subject")
	// ErrClosed: the bus was closed with [Bus.Close].
	ErrClosed = errors.New("eventbus: bus closed")
	// ErrNoConn: a [Remote] subscription on a bus created without
	// [WithConn].
	ErrNoConn = errors.New("eventbus: bus has no NATS connection")
	// ErrZeroTopic: a Topic's zero value was used instead of one made by
	// [NewTopic].
	ErrZeroTopic = errors.New("eventbus: zero Topic; create topics with NewTopic")
)
