package jobqueue

import "errors"

// Sentinel errors. Match them with [errors.Is].
var (
	// ErrPermanent is wrapped by a handler's error to say that retrying
	// cannot help: the job goes to the dead-letter stream at once.
	ErrPermanent = errors.New("jobqueue: permanent failure")
	// ErrInvalidQueue: a queue name that is not one NATS subject token of
	// letters, digits, '-' and '_'.
	ErrInvalidQueue = errors.New("jobqueue: invalid queue name")
	// ErrHandled: [Queue.Handle] was called twice for one queue.
	ErrHandled = errors.New("jobqueue: queue already has a handler")
	// ErrStopped: the Queue was stopped with [Queue.Stop].
	ErrStopped = errors.New("jobqueue: stopped")
)
