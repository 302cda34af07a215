// Package stream passes sequences of values between plugins as
// [iter.Seq2][T, error]: the consumer ranges over them, errors come last,
// and the producer is held back and cancelled by the consumer.
//
// # Producing
//
// [New] runs a producer function on its own goroutine for each range over
// the stream, with a bounded buffer between them:
//
//	nums := stream.New(ctx, 16, func(ctx context.Context, emit func(int) error) error {
//		for i := range 1000 {
//			if err := emit(i); err != nil {
//				return err // the consumer stopped or ctx is done
//			}
//		}
//		return nil
//	})
//	for n, err := range nums {
//		if err != nil {
//			return err // the producer's error, or ctx's, always last
//		}
//		use(n)
//	}
//
// # Backpressure and cancellation
//
// emit blocks while the buffer is full, so a producer is never more than
// the buffer ahead of its consumer. When the loop ends early (break, return)
// or ctx is done, the producer's context is cancelled and the range waits
// for the producer to return: no goroutine outlives the loop.
//
// # NATS
//
// [FromNATS] streams the messages of a JetStream consumer, acknowledging
// each once the loop body is done with it; [ToNATS] publishes a stream to a
// subject with a window of unacknowledged publishes. Both encode values as
// JSON. They take their JetStream handles from the caller; this package
// neither connects nor creates streams.
package stream
