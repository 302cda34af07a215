package jobqueue_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/plykit/ply/internal/natstest"
	"github.com/plykit/ply/jobqueue"
)

// embedded returns JetStream on a new in-process server.
func embedded(t testing.TB) jetstream.JetStream {
	t.Helper()
	s := natstest.Embedded(t)
	nc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

var quiet = jobqueue.WithLogger(slog.New(slog.DiscardHandler))

func newQueue(t testing.TB, js jetstream.JetStream, opts ...jobqueue.Option) *jobqueue.Queue {
	t.Helper()
	opts = append([]jobqueue.Option{quiet, jobqueue.WithAckWait(2 * time.Second)}, opts...)
	q, err := jobqueue.New(context.Background(), js, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := q.Stop(context.Background()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return q
}

func enqueue[T any](t testing.TB, q *jobqueue.Queue, queue string, v T, opts ...jobqueue.EnqueueOption) string {
	t.Helper()
	id, err := jobqueue.Enqueue(context.Background(), q, queue, v, opts...)
	if err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	return id
}

// eventually polls cond until it holds, failing the test after d.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

type email struct {
	To string `json:"to"`
}

func TestEnqueueAndProcess(t *testing.T) {
	q := newQueue(t, embedded(t))
	got := make(chan string, 10)
	err := q.Handle(t.Context(), "email", jobqueue.Typed(func(_ context.Context, e email, j *jobqueue.Job) error {
		if j.Attempt != 1 || j.Queue != "email" || j.Enqueued.IsZero() {
			t.Errorf("job = %+v, want attempt 1 of queue email with an enqueue time", j)
		}
		got <- e.To
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	enqueue(t, q, "email", email{To: "a@example.com"})
	enqueue(t, q, "email", email{To: "b@example.com"})
	want := []string{"a@example.com", "b@example.com"}
	var recv []string
	for range want {
		recv = append(recv, <-got)
	}
	if diff := cmp.Diff(want, recv); diff != "" {
		t.Errorf("processed (-want +got):\n%s", diff)
	}
}

func TestRawPayload(t *testing.T) {
	q := newQueue(t, embedded(t))
	got := make(chan []byte, 1)
	if err := q.Handle(t.Context(), "raw", func(_ context.Context, j *jobqueue.Job) error {
		got <- j.Payload
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	enqueue(t, q, "raw", []byte("\x00binary"))
	if p := <-got; string(p) != "\x00binary" {
		t.Errorf("payload = %q, want the bytes as enqueued", p)
	}
}

// A []byte or json.RawMessage payload goes as it is and decodes as it
// went; a string, like any other value, goes as JSON and decodes back.
func TestPayloadRoundTrip(t *testing.T) {
	q := newQueue(t, embedded(t))
	type got struct {
		payload, decoded []byte
		err              error
	}
	bytesCh, rawCh, strCh := make(chan got, 1), make(chan got, 1), make(chan got, 1)
	handle := func(queue string, fn jobqueue.Handler) {
		if err := q.Handle(t.Context(), queue, fn); err != nil {
			t.Fatal(err)
		}
	}
	handle("bytes", func(ctx context.Context, j *jobqueue.Job) error {
		err := jobqueue.Typed(func(_ context.Context, v []byte, j *jobqueue.Job) error {
			bytesCh <- got{payload: j.Payload, decoded: v}
			return nil
		})(ctx, j)
		if err != nil {
			bytesCh <- got{payload: j.Payload, err: err}
		}
		return nil
	})
	handle("raw", func(_ context.Context, j *jobqueue.Job) error {
		v, err := jobqueue.Decode[json.RawMessage](j)
		rawCh <- got{payload: j.Payload, decoded: v, err: err}
		return nil
	})
	handle("str", func(_ context.Context, j *jobqueue.Job) error {
		v, err := jobqueue.Decode[string](j)
		strCh <- got{payload: j.Payload, decoded: []byte(v), err: err}
		return nil
	})
	enqueue(t, q, "bytes", []byte("\x00not json"))
	enqueue(t, q, "raw", json.RawMessage(`{ "to": "ada" }`))
	enqueue(t, q, "str", "ada")
	for _, tt := range []struct {
		name                     string
		ch                       chan got
		wantPayload, wantDecoded string
	}{
		{name: "[]byte with Typed", ch: bytesCh, wantPayload: "\x00not json", wantDecoded: "\x00not json"},
		{name: "json.RawMessage with Decode", ch: rawCh, wantPayload: `{ "to": "ada" }`, wantDecoded: `{ "to": "ada" }`},
		{name: "string with Decode", ch: strCh, wantPayload: `"ada"`, wantDecoded: "ada"},
	} {
		g := <-tt.ch
		if g.err != nil {
			t.Errorf("%s: Decode error %v", tt.name, g.err)
		}
		if string(g.payload) != tt.wantPayload || string(g.decoded) != tt.wantDecoded {
			t.Errorf("%s: payload %q decoded %q, want %q and %q", tt.name, g.payload, g.decoded, tt.wantPayload, tt.wantDecoded)
		}
	}
}

func TestBackoffDelay(t *testing.T) {
	b := jobqueue.Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 2, Jitter: 0.5}
	for _, tt := range []struct {
		attempt int
		rnd     float64
		want    time.Duration
	}{
		{1, 0.5, 100 * time.Millisecond},
		{2, 0.5, 200 * time.Millisecond},
		{3, 0.5, 400 * time.Millisecond},
		{4, 0.5, 800 * time.Millisecond},
		{5, 0.5, time.Second}, // capped
		{50, 0.5, time.Second},
		{1, 0, 50 * time.Millisecond},                // -50%
		{1, 0.999999, 149_999_900 * time.Nanosecond}, // just under +50%
		{4, 0.99, time.Second},                       // capped with jitter
		{0, 0.5, 100 * time.Millisecond},             // treated as the first
	} {
		t.Run(fmt.Sprint(tt.attempt, "/", tt.rnd), func(t *testing.T) {
			if got := b.Delay(tt.attempt, tt.rnd); got != tt.want {
				t.Errorf("Delay(%d, %v) = %v, want %v", tt.attempt, tt.rnd, got, tt.want)
			}
		})
	}
	if got := (jobqueue.Backoff{}).Delay(3, 0.5); got != 4*time.Second {
		t.Errorf("zero Backoff: Delay(3) = %v, want the default's 4s", got)
	}
}

// A failing job is retried with the backoff, then dead-lettered with the
// history of every attempt.
func TestRetriesThenDead(t *testing.T) {
	backoff := jobqueue.Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 2, Jitter: -1}
	q := newQueue(t, embedded(t), jobqueue.WithBackoff(backoff))
	var (
		mu    sync.Mutex
		times []time.Time
		seen  [][]jobqueue.Attempt
	)
	if err := q.Handle(t.Context(), "flaky", func(_ context.Context, j *jobqueue.Job) error {
		mu.Lock()
		defer mu.Unlock()
		times = append(times, time.Now())
		seen = append(seen, j.History)
		return fmt.Errorf("attempt %d failed", j.Attempt)
	}); err != nil {
		t.Fatal(err)
	}
	id := enqueue(t, q, "flaky", []byte("x"), jobqueue.MaxAttempts(4))

	var dead []*jobqueue.Job
	eventually(t, 10*time.Second, "job not dead-lettered", func() bool {
		var err error
		dead, err = q.Dead(t.Context(), "flaky", 10)
		return err == nil && len(dead) == 1
	})
	d := dead[0]
	if d.ID != id || d.Attempt != 4 || d.MaxAttempts != 4 || string(d.Payload) != "x" {
		t.Errorf("dead job = %+v, want ID %s after 4 of 4 attempts with its payload", d, id)
	}
	var errs []string
	for i, a := range d.History {
		errs = append(errs, a.Error)
		if a.Attempt != i+1 || a.Time.IsZero() {
			t.Errorf("history[%d] = %+v, want attempt %d with a time", i, a, i+1)
		}
	}
	want := []string{"attempt 1 failed", "attempt 2 failed", "attempt 3 failed", "attempt 4 failed"}
	if diff := cmp.Diff(want, errs); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(times); i++ {
		if gap, least := times[i].Sub(times[i-1]), backoff.Delay(i, 0.5); gap < least {
			t.Errorf("attempt %d ran %v after attempt %d, want >= %v", i+1, gap, i, least)
		}
		if len(seen[i]) != i {
			t.Errorf("attempt %d saw %d earlier attempts in its history, want %d", i+1, len(seen[i]), i)
		}
	}
}

func TestPermanentError(t *testing.T) {
	q := newQueue(t, embedded(t))
	var runs atomic.Int32
	if err := q.Handle(t.Context(), "bad", jobqueue.Typed(func(context.Context, email, *jobqueue.Job) error {
		runs.Add(1)
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	enqueue(t, q, "bad", []byte("not json"))
	eventually(t, 5*time.Second, "undecodable job not dead", func() bool {
		dead, err := q.Dead(t.Context(), "bad", 10)
		return err == nil && len(dead) == 1 && dead[0].Attempt == 1
	})
	if n := runs.Load(); n != 0 {
		t.Errorf("handler ran %d times for an undecodable payload", n)
	}
}

func TestIdempotencyKey(t *testing.T) {
	q := newQueue(t, embedded(t))
	var ids []string
	for range 3 {
		ids = append(ids, enqueue(t, q, "once", []byte("x"), jobqueue.IdempotencyKey("order-42")))
	}
	enqueue(t, q, "once", []byte("y"), jobqueue.IdempotencyKey("order-43"))
	got := make(chan string, 10)
	if err := q.Handle(t.Context(), "once", func(_ context.Context, j *jobqueue.Job) error {
		got <- j.ID
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"order-42", "order-42", "order-42"}, ids); diff != "" {
		t.Errorf("Enqueue IDs (-want +got):\n%s", diff)
	}
	recv := []string{<-got, <-got}
	slices.Sort(recv)
	if diff := cmp.Diff([]string{"order-42", "order-43"}, recv); diff != "" {
		t.Errorf("processed (-want +got):\n%s", diff)
	}
	// Nothing more comes: a third job would arrive within the idle wait.
	if err := q.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-got:
		t.Errorf("job %s processed twice", id)
	default:
	}
}

func TestTimeout(t *testing.T) {
	q := newQueue(t, embedded(t))
	errc := make(chan error, 1)
	if err := q.Handle(t.Context(), "slow", func(ctx context.Context, _ *jobqueue.Job) error {
		<-ctx.Done()
		errc <- ctx.Err()
		return ctx.Err()
	}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	enqueue(t, q, "slow", []byte("x"), jobqueue.Timeout(50*time.Millisecond), jobqueue.MaxAttempts(1))
	if err := <-errc; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("handler context ended with %v, want DeadlineExceeded", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("timeout took %v", el)
	}
	eventually(t, 5*time.Second, "timed-out job not dead", func() bool {
		dead, err := q.Dead(t.Context(), "slow", 10)
		return err == nil && len(dead) == 1
	})
}

func TestConcurrencyLimit(t *testing.T) {
	q := newQueue(t, embedded(t))
	const limit, jobs = 3, 30
	var running, peak, done atomic.Int32
	release := make(chan struct{})
	if err := q.Handle(t.Context(), "par", func(_ context.Context, _ *jobqueue.Job) error {
		n := running.Add(1)
		for p := peak.Load(); n > p; p = peak.Load() {
			if peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		running.Add(-1)
		done.Add(1)
		return nil
	}, jobqueue.WithConcurrency(limit)); err != nil {
		t.Fatal(err)
	}
	for range jobs {
		enqueue(t, q, "par", []byte("x"))
	}
	eventually(t, 5*time.Second, "workers never reached the limit", func() bool { return running.Load() == limit })
	close(release)
	eventually(t, 10*time.Second, "jobs not done", func() bool { return done.Load() == jobs })
	if p := peak.Load(); p != limit {
		t.Errorf("peak concurrency = %d, want %d", p, limit)
	}
}

// Cancelling Handle's ctx drains its workers: the running job finishes
// and is acknowledged, no job is fetched after, and a later Handle of the
// queue takes over once they have drained.
func TestHandleContextDrains(t *testing.T) {
	q := newQueue(t, embedded(t))
	ctx, cancel := context.WithCancel(t.Context())
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	handled := make(chan string, 4)
	if err := q.Handle(ctx, "ctxstop", func(_ context.Context, j *jobqueue.Job) error {
		started <- struct{}{}
		<-release
		handled <- "first " + string(j.Payload)
		return nil
	}, jobqueue.WithPrefetch(0)); err != nil {
		t.Fatal(err)
	}
	enqueue(t, q, "ctxstop", []byte("a"))
	<-started
	cancel()
	enqueue(t, q, "ctxstop", []byte("b")) // after the cancel: for the next Handle
	close(release)
	if got := <-handled; got != "first a" {
		t.Fatalf("running job: handled %q, want first a", got)
	}
	if err := q.Handle(t.Context(), "ctxstop", func(_ context.Context, j *jobqueue.Job) error {
		handled <- "second " + string(j.Payload)
		return nil
	}); err != nil {
		t.Fatalf("Handle after the first's ctx was cancelled: %v", err)
	}
	if got := <-handled; got != "second b" {
		t.Errorf("job enqueued after the cancel: handled %q, want second b", got)
	}
	if err := q.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-handled:
		t.Errorf("after Stop: also handled %q", got)
	default:
	}
}

// Stop lets running jobs finish and acknowledges them: none runs again.
func TestStopDrains(t *testing.T) {
	js := embedded(t)
	q := newQueue(t, js)
	started := make(chan struct{})
	release := make(chan struct{})
	var finished atomic.Int32
	if err := q.Handle(t.Context(), "drain", func(_ context.Context, _ *jobqueue.Job) error {
		close(started)
		<-release
		finished.Add(1)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	enqueue(t, q, "drain", []byte("x"))
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- q.Stop(context.Background()) }()
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while a job was running", err)
	case <-time.After(50 * time.Millisecond): // Stop must still be waiting
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if finished.Load() != 1 {
		t.Fatal("job did not finish")
	}
	if err := q.Handle(t.Context(), "drain2", func(context.Context, *jobqueue.Job) error { return nil }); !errors.Is(err, jobqueue.ErrStopped) {
		t.Errorf("Handle after Stop = %v, want ErrStopped", err)
	}
	info, err := js.Stream(t.Context(), jobqueue.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the drained job is still in the stream (not acknowledged)", func() bool {
		si, err := info.Info(t.Context())
		return err == nil && si.State.Msgs == 0
	})
}

func TestDelay(t *testing.T) {
	q := newQueue(t, embedded(t))
	got := make(chan time.Time, 1)
	if err := q.Handle(t.Context(), "later", func(context.Context, *jobqueue.Job) error {
		got <- time.Now()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	const delay = 500 * time.Millisecond
	start := time.Now()
	enqueue(t, q, "later", []byte("x"), jobqueue.Delay(delay))
	select {
	case at := <-got:
		if el := at.Sub(start); el < delay {
			t.Errorf("delayed job ran after %v, want >= %v", el, delay)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("delayed job never ran")
	}
}

func TestPriority(t *testing.T) {
	q := newQueue(t, embedded(t))
	for i := range 3 {
		enqueue(t, q, "prio", []byte(fmt.Sprint("low", i)), jobqueue.Priority(jobqueue.Low))
		enqueue(t, q, "prio", []byte(fmt.Sprint("normal", i)))
		enqueue(t, q, "prio", []byte(fmt.Sprint("high", i)), jobqueue.Priority(jobqueue.High))
	}
	var (
		mu  sync.Mutex
		got []string
	)
	if err := q.Handle(t.Context(), "prio", func(_ context.Context, j *jobqueue.Job) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, string(j.Payload))
		return nil
	}, jobqueue.WithPrefetch(0)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "jobs not done", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 9
	})
	want := []string{"high0", "high1", "high2", "normal0", "normal1", "normal2", "low0", "low1", "low2"}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("processing order (-want +got):\n%s", diff)
	}
}

// Of the jobs a worker holds (running, or prefetched and waiting), a High
// one runs before the Normal ones held before it.
func TestPriorityAmongHeldJobs(t *testing.T) {
	js := embedded(t)
	q := newQueue(t, js)
	release := make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseOnce) // before the queue's Stop, which waits for the handler
	var (
		mu  sync.Mutex
		got []string
	)
	running := make(chan struct{})
	if err := q.Handle(t.Context(), "held", func(_ context.Context, j *jobqueue.Job) error {
		if string(j.Payload) == "first" {
			close(running)
			<-release
		}
		mu.Lock()
		defer mu.Unlock()
		got = append(got, string(j.Payload))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	enqueue(t, q, "held", []byte("first"))
	<-running
	for i := range 3 {
		enqueue(t, q, "held", []byte(fmt.Sprint("normal", i)))
	}
	enqueue(t, q, "held", []byte("high"), jobqueue.Priority(jobqueue.High))
	// The worker holds every job: delivered, not acknowledged.
	for _, c := range []struct {
		name string
		n    int
	}{{"held_1", 4}, {"held_0", 1}} {
		eventually(t, 5*time.Second, c.name+" jobs not held", func() bool {
			cons, err := js.Consumer(t.Context(), jobqueue.DefaultStream, c.name)
			if err != nil {
				return false
			}
			info, err := cons.Info(t.Context())
			return err == nil && info.NumAckPending == c.n
		})
	}
	releaseOnce()
	eventually(t, 5*time.Second, "jobs not done", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 5
	})
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{"first", "high", "normal0", "normal1", "normal2"}, got); diff != "" {
		t.Errorf("processing order (-want +got):\n%s", diff)
	}
}

func TestErrors(t *testing.T) {
	q := newQueue(t, embedded(t))
	if _, err := jobqueue.Enqueue(t.Context(), q, "bad.name", []byte("x")); !errors.Is(err, jobqueue.ErrInvalidQueue) {
		t.Errorf("Enqueue(bad.name) = %v, want ErrInvalidQueue", err)
	}
	h := func(context.Context, *jobqueue.Job) error { return nil }
	if err := q.Handle(t.Context(), "twice", h); err != nil {
		t.Fatal(err)
	}
	if err := q.Handle(t.Context(), "twice", h); !errors.Is(err, jobqueue.ErrHandled) {
		t.Errorf("second Handle = %v, want ErrHandled", err)
	}
	if _, err := jobqueue.New(t.Context(), nil); err == nil {
		t.Error("New(nil) returned no error")
	}
}

// A job that runs longer than the ack wait is kept alive by heartbeats: it
// runs once.
func TestHeartbeat(t *testing.T) {
	q := newQueue(t, embedded(t), jobqueue.WithAckWait(300*time.Millisecond))
	var runs atomic.Int32
	done := make(chan struct{})
	if err := q.Handle(t.Context(), "long", func(_ context.Context, _ *jobqueue.Job) error {
		if runs.Add(1) == 1 {
			time.Sleep(time.Second) // the job's work: over three ack waits
			close(done)
		}
		return nil
	}, jobqueue.WithConcurrency(2)); err != nil {
		t.Fatal(err)
	}
	enqueue(t, q, "long", []byte("x"))
	<-done
	if err := q.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("job ran %d times, want 1 (heartbeats should hold it)", n)
	}
}

// An encoding failure keeps its cause: a caller can tell what it could not
// encode with errors.As.
func TestEnqueueEncodeErrorKeepsItsCause(t *testing.T) {
	q := newQueue(t, embedded(t))
	_, err := jobqueue.Enqueue(context.Background(), q, "mail", func() {})
	if _, ok := errors.AsType[*json.UnsupportedTypeError](err); !ok {
		t.Fatalf("Enqueue(func) error = %v, want a *json.UnsupportedTypeError inside", err)
	}
}
