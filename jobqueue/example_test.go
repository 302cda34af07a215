package jobqueue_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plykit/ply/jobqueue"
)

// exampleJetStream starts an in-process server for an example; a plugin
// gets JetStream from the backbone instead, and a test from plytest.NATS.
func exampleJetStream() (jetstream.JetStream, func()) {
	dir, err := os.MkdirTemp("", "jobqueue-example")
	if err != nil {
		panic(err)
	}
	s, err := server.NewServer(&server.Options{JetStream: true, StoreDir: dir, DontListen: true, NoLog: true, NoSigs: true})
	if err != nil {
		panic(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		panic("server not ready")
	}
	nc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		panic(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		panic(err)
	}
	return js, func() {
		nc.Close()
		s.Shutdown()
		s.WaitForShutdown()
		_ = os.RemoveAll(dir)
	}
}

type welcome struct {
	Email string `json:"email"`
}

// A durable job: enqueued once (the idempotency key makes a retried
// Enqueue harmless), handled by a worker, retried with backoff when the
// handler fails, and dead-lettered after its last attempt. A failure
// wrapping ErrPermanent is not retried.
func Example() {
	js, stop := exampleJetStream()
	defer stop()
	ctx := context.Background()

	q, err := jobqueue.New(ctx, js, jobqueue.WithLogger(slog.New(slog.DiscardHandler)),
		jobqueue.WithBackoff(jobqueue.Backoff{Initial: time.Millisecond, Max: time.Millisecond}))
	if err != nil {
		panic(err)
	}
	defer func() { _ = q.Stop(context.Background()) }()

	done := make(chan struct{})
	err = q.Handle(ctx, "mail", jobqueue.Typed(func(_ context.Context, w welcome, j *jobqueue.Job) error {
		if j.Attempt == 1 {
			return errors.New("smtp: try again later") // retried
		}
		fmt.Printf("sent to %s on attempt %d\n", w.Email, j.Attempt)
		close(done)
		return nil
	}))
	if err != nil {
		panic(err)
	}
	for range 2 { // the second Enqueue is a duplicate of the first: dropped
		if _, err := jobqueue.Enqueue(ctx, q, "mail", welcome{Email: "ann@example.com"},
			jobqueue.IdempotencyKey("welcome/ann")); err != nil {
			panic(err)
		}
	}
	<-done
	// Output:
	// sent to ann@example.com on attempt 2
}

// A batch enqueues many jobs without a round trip each. Every job has an
// outcome: its ID, or its own error in a *BatchError; the valid jobs are
// stored even when others fail.
func ExampleQueue_EnqueueBatch() {
	js, stop := exampleJetStream()
	defer stop()
	ctx := context.Background()
	q, err := jobqueue.New(ctx, js, jobqueue.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	defer func() { _ = q.Stop(context.Background()) }()

	var b jobqueue.Batch
	for _, email := range []string{"ann@example.com", "bob@example.com"} {
		b.Add("mail", welcome{Email: email}, jobqueue.IdempotencyKey("welcome/"+email))
	}
	b.Add("mail.bad", welcome{Email: "eve@example.com"}) // not a queue name
	ids, err := q.EnqueueBatch(ctx, &b)
	if be, ok := errors.AsType[*jobqueue.BatchError](err); ok {
		for i, err := range be.Errs {
			if errors.Is(err, jobqueue.ErrInvalidQueue) {
				fmt.Printf("job %d: not enqueued, invalid queue name\n", i)
			}
		}
	}
	fmt.Printf("%q\n", ids)
	// Output:
	// job 2: not enqueued, invalid queue name
	// ["welcome/ann@example.com" "welcome/bob@example.com" ""]
}
