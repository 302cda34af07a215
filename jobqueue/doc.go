// Package jobqueue runs durable jobs on JetStream work-queue streams: at
// least once, with delays, priorities, retries with backoff, per-job
// timeouts, dead letters and graceful shutdown.
//
// # Queues and jobs
//
// [New] creates (or updates) the stream that holds every queue's jobs, the
// stream of dead jobs and a small stream of run markers (see below), on a
// [jetstream.JetStream] the caller passes in.
// [Enqueue] adds a job and returns once the stream has stored it; a []byte
// or json.RawMessage payload goes as it is, any other value (a string
// included) as JSON, and [Decode] reverses either:
//
//	q, err := jobqueue.New(ctx, js)
//	id, err := jobqueue.Enqueue(ctx, q, "email", Email{To: "a@example.com"},
//		jobqueue.Delay(time.Minute), jobqueue.IdempotencyKey("welcome-42"))
//
// [Queue.EnqueueBatch] enqueues the jobs of a [Batch] without a round trip
// each, and reports each job's outcome ([BatchError]).
//
// # Workers
//
// [Queue.Handle] starts workers for a queue: up to [WithConcurrency] jobs
// run at once, each [Handler] call under the job's [Timeout]. A job is
// acknowledged only after its handler returned nil; while it runs, and while
// it waits for a worker, heartbeats keep the server from handing it to
// another worker. [Typed] decodes payloads for the handler.
// [Queue.Stop] stops fetching and waits for the held jobs to finish.
//
// # Retries and dead letters
//
// A failed attempt is scheduled again after a [Backoff] delay (exponential,
// with jitter; [Backoff.Delay] is a pure function). The job travels with its
// history: each failed attempt's error and time ([Job.History]). After
// [MaxAttempts], or at once for an error wrapping [ErrPermanent], the job
// goes to the dead-letter stream with its history ([Queue.Dead]) and the
// original is acknowledged.
//
// Attempts count the handler's failures, not deliveries. When a worker
// dies holding a job (kill -9, a crash), is stopped before the handler
// returns, or misses the ack wait, the server hands the job out again
// after the ack wait, without a result for the earlier delivery: the job
// keeps its [Job.Attempt] number, and [Job.Interrupted] counts such
// deliveries. They have their own, larger bound ([WithMaxInterruptions],
// 10 by default): a poison job that kills every worker running it goes to
// the dead-letter stream after that many crashes instead of looping
// forever. The server cannot tell a job that was running from one a dying
// worker had fetched but not started ([WithPrefetch]), so a worker marks
// the run of a redelivered job (in the stream "<stream>_STARTED") before
// its handler starts: a job is charged for its first interrupted delivery,
// in doubt, and then only for the runs that started. A job held, not run,
// by workers that a poison job keeps killing is charged once, not once per
// crash.
//
// # Delays
//
// Delayed jobs and retries use JetStream message schedules (nats-server
// 2.12+): the job is stored as a schedule ("Nats-Schedule: @at <time>") on
// its own subject, and the server publishes it to the queue at that time.
// The delay survives restarts and needs no worker meanwhile.
//
// # Priorities
//
// Each level ([High], [Normal], [Low]) is a subject of its own with its own
// durable consumer. A worker asks High for jobs before every pull, then
// waits up to [WithIdleWait] for Normal jobs, taking them as they arrive,
// and asks Low only when Normal had none. Of the jobs a worker holds
// ([WithPrefetch]), the highest level runs first, so a High job waits for
// the running jobs, not for the held ones.
//
// # Delivery and durability
//
// Delivery is at least once: a job runs again if its worker dies, if its
// acknowledgement is lost, or after the ack wait ([WithAckWait]) expires
// without a heartbeat. Handlers should be idempotent; [IdempotencyKey]
// deduplicates enqueues within the stream's window ([WithDedupWindow]).
// A job that [Enqueue] returned for is stored by the server, which syncs
// its store to disk on its own schedule (sync_interval, 2 minutes by
// default): it survives the kill of any process, not necessarily a power
// loss unless the server runs with sync_interval: always, or the stream is
// replicated ([WithReplicas]).
package jobqueue
