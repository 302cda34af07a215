package stream

import (
	"context"
	"fmt"
	"iter"
	"runtime/debug"

	"github.com/plykit/ply/internal/fault"
)

// New returns a stream of the values produce emits. Each range over the
// stream runs produce once, on a goroutine of its own, with a context that
// is done when ctx is done or when the range loop ends (break, return or
// panic in the loop body); the range then waits for produce to return, so
// no goroutine outlives the loop. produce must return once its context is
// done.
//
// emit hands a value to the consumer. Up to buffer values wait between
// producer and consumer; when they are all waiting, emit blocks until the
// consumer takes one (backpressure), so produce never runs more than buffer
// values ahead. buffer 0 hands each value over directly. emit returns the
// context's error, and drops the value, once the stream is cancelled.
// emit must be called only from produce's goroutine, before produce
// returns.
//
// The values come in the order emitted, each with a nil error. Then, if
// produce returned an error (or panicked: a *ply.PanicError with the
// panic value and stack), or ctx was done before produce finished, the last
// pair carries that error and a zero value. A stream that ended normally
// has no error pair. The panic is the kernel's type, not one of this
// package, so that a handler returning it is reported as the panic it is
// (value and stack) by the host, the HTTP server and the recover plugin,
// which match *ply.PanicError; the package makes it without importing ply.
func New[T any](ctx context.Context, buffer int, produce func(ctx context.Context, emit func(T) error) error) iter.Seq2[T, error] {
	if buffer < 0 {
		panic(fmt.Sprintf("stream: New with buffer %d: must be >= 0", buffer))
	}
	return func(yield func(T, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		vals := make(chan T, buffer)  // the stream's buffer: backpressure beyond it
		result := make(chan error, 1) // produce's error; 1 so the producer never waits
		done := make(chan struct{})
		go func() {
			defer close(done)
			emit := func(v T) error {
				select {
				case vals <- v:
					return nil
				case <-ctx.Done():
					return context.Cause(ctx)
				}
			}
			err := run(ctx, produce, emit)
			if err == nil && ctx.Err() != nil {
				err = context.Cause(ctx) // stopped early: the stream is incomplete
			}
			result <- err
			close(vals)
		}()
		defer func() {
			cancel()
			<-done
		}()
		for {
			select {
			case v, ok := <-vals:
				if !ok {
					if err := <-result; err != nil {
						var zero T
						yield(zero, err)
					}
					return
				}
				if !yield(v, nil) {
					return
				}
			case <-ctx.Done():
				var zero T
				yield(zero, context.Cause(ctx))
				return
			}
		}
	}
}

func run[T any](ctx context.Context, produce func(context.Context, func(T) error) error, emit func(T) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &fault.PanicError{Value: p, Stack: debug.Stack()}
		}
	}()
	return produce(ctx, emit)
}
