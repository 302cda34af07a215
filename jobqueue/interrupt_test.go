package jobqueue_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/plykit/ply/internal/natstest"
	"github.com/plykit/ply/jobqueue"
)

// interruptWorkerEnv, set to a server URL, turns the test binary into a
// worker process of the "intr" queue (see TestMain); interruptModeEnv says
// what its handler does: "hang" (until the process is killed), "poison"
// (kills its own process when the payload is "poison", else returns nil) or
// "finish" (returns nil). The handler prints "started attempt=A
// interrupted=I" when it starts, and "done P" (P the payload) when it
// returns.
const (
	interruptWorkerEnv = "JOBQUEUE_INTERRUPT_WORKER"
	interruptModeEnv   = "JOBQUEUE_INTERRUPT_MODE"
)

// interruptOpts configure the queue of the interruption tests and of their
// worker processes: a short ack wait hands a killed worker's job out again
// within a second; one failed run makes a job dead, four interrupted
// deliveries too.
func interruptOpts() []jobqueue.Option {
	return []jobqueue.Option{
		jobqueue.WithStream("INTR"), jobqueue.WithAckWait(300 * time.Millisecond),
		jobqueue.WithMaxAttempts(1), jobqueue.WithMaxInterruptions(4),
		jobqueue.WithLogger(slog.New(slog.DiscardHandler)),
	}
}

func interruptWorker(url, mode string) {
	js, fail := childJetStream(url, "interrupt worker")
	ctx := context.Background()
	q, err := jobqueue.New(ctx, js, interruptOpts()...)
	if err != nil {
		fail(err)
	}
	if err := q.Handle(ctx, "intr", func(_ context.Context, j *jobqueue.Job) error {
		_, _ = fmt.Fprintf(os.Stdout, "started attempt=%d interrupted=%d\n", j.Attempt, j.Interrupted)
		switch mode {
		case "hang":
			select {} // until SIGKILL
		case "poison":
			if string(j.Payload) == "poison" {
				self, _ := os.FindProcess(os.Getpid())
				_ = self.Kill() // SIGKILL: a crash, not an error
				select {}
			}
		}
		_, _ = fmt.Fprintln(os.Stdout, "done", string(j.Payload))
		return nil
	}); err != nil {
		fail(err)
	}
	select {} // until SIGKILL
}

// intrWorker is a worker process of the interruption tests.
type intrWorker struct {
	cmd    *exec.Cmd
	lines  chan string   // its output, line by line; closed when it ends
	exited chan struct{} // closed once the process has exited
}

func startIntrWorker(t *testing.T, url, mode string) *intrWorker {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), exe, "-test.run=^$") //nolint:gosec // G204: the test binary itself
	cmd.Env = append(os.Environ(), interruptWorkerEnv+"="+url, interruptModeEnv+"="+mode)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &intrWorker{cmd: cmd, lines: make(chan string, 16), exited: make(chan struct{})}
	go func() {
		defer close(w.exited)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			w.lines <- sc.Text()
		}
		close(w.lines)
		_ = cmd.Wait()
	}()
	t.Cleanup(w.kill)
	return w
}

// kill kills the worker (SIGKILL) and waits for it to exit.
func (w *intrWorker) kill() {
	_ = w.cmd.Process.Kill()
	for range w.lines { // drain, so the reader can reach Wait
	}
	<-w.exited
}

// next returns the worker's next line of output.
func (w *intrWorker) next(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-w.lines:
		if !ok {
			t.Fatal("worker exited without a word")
		}
		return l
	case <-time.After(20 * time.Second):
		t.Fatal("worker silent for 20s")
		return ""
	}
}

// intrQueue returns an external server's URL and a Queue on it with
// interruptOpts, for enqueueing and reading dead jobs.
func intrQueue(t *testing.T) (string, *jobqueue.Queue) {
	t.Helper()
	url := natstest.Server(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	q, err := jobqueue.New(t.Context(), js, interruptOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	return url, q
}

// A job whose worker is killed while it runs does not use up an attempt:
// with one attempt allowed, it survives three kills of its worker, keeps
// attempt 1 and counts the interruptions, and completes on the fourth
// delivery.
func TestKilledWorkerUsesNoAttempt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	url, q := intrQueue(t)
	enqueue(t, q, "intr", []byte("x"))
	for k := range 3 {
		w := startIntrWorker(t, url, "hang")
		if got, want := w.next(t), fmt.Sprintf("started attempt=1 interrupted=%d", k); got != want {
			t.Fatalf("delivery %d: %q, want %q", k+1, got, want)
		}
		w.kill()
	}
	w := startIntrWorker(t, url, "finish")
	if got, want := w.next(t), "started attempt=1 interrupted=3"; got != want {
		t.Fatalf("delivery 4: %q, want %q", got, want)
	}
	if got := w.next(t); got != "done x" {
		t.Fatalf("delivery 4: %q, want done", got)
	}
	dead, err := q.Dead(t.Context(), "intr", 10)
	if err != nil || len(dead) != 0 {
		t.Errorf("Dead = %v, %v; want none", dead, err)
	}
}

// A poison job, which kills every worker that runs it, ends in the
// dead-letter stream after WithMaxInterruptions (4) crashes, without
// running a fifth time, with a history that says why.
func TestPoisonJobIsDeadAfterMaxInterruptions(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	url, q := intrQueue(t)
	id := enqueue(t, q, "intr", []byte("poison"))
	deadJob := func() *jobqueue.Job {
		dead, err := q.Dead(t.Context(), "intr", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(dead) == 0 {
			return nil
		}
		return dead[0]
	}
	crashes := 0
	var d *jobqueue.Job
	for d == nil {
		if crashes > 10 {
			t.Fatalf("%d crashes and the poison job is not dead", crashes)
		}
		w := startIntrWorker(t, url, "poison")
		deadline := time.Now().Add(20 * time.Second)
	wait:
		for {
			select {
			case <-w.exited:
				crashes++
				break wait
			default:
			}
			if d = deadJob(); d != nil {
				break wait
			}
			if time.Now().After(deadline) {
				t.Fatal("worker neither crashed nor dead-lettered the job within 20s")
			}
			time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
		}
	}
	if crashes != 4 {
		t.Errorf("the poison job crashed %d workers, want 4 (WithMaxInterruptions)", crashes)
	}
	if d.ID != id || d.Attempt != 1 || d.Interrupted != 4 {
		t.Errorf("dead job = ID %s attempt %d interrupted %d, want ID %s attempt 1 interrupted 4", d.ID, d.Attempt, d.Interrupted, id)
	}
	if n := len(d.History); n != 1 || !strings.Contains(d.History[n-1].Error, "no result") {
		t.Errorf("dead job history = %+v, want one attempt with no result", d.History)
	}
}

// The jobs that a worker had fetched (WithPrefetch) but not started when a
// poison job killed it, again and again, are not charged for each crash:
// they complete, none dead, each charged at most one interruption (the
// first crash, when it is unknown whether they had started).
func TestJobsHeldThroughCrashesAreNotCharged(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	url, q := intrQueue(t)
	enqueue(t, q, "intr", []byte("poison"))
	const others = 5
	for i := range others {
		enqueue(t, q, "intr", []byte(fmt.Sprint("b", i)))
	}
	done := map[string]string{} // payload: the "started" line of its run
	crashes := 0
	for len(done) < others {
		if crashes > 10 {
			t.Fatalf("%d crashes; done: %v", crashes, done)
		}
		w := startIntrWorker(t, url, "poison")
		deadline := time.Now().Add(20 * time.Second)
		var started string
	wait:
		for len(done) < others {
			select {
			case l, ok := <-w.lines:
				if !ok {
					crashes++
					break wait
				}
				if p, ok := strings.CutPrefix(l, "done "); ok {
					done[p] = started
				} else {
					started = l
				}
			case <-time.After(100 * time.Millisecond): // polling interval for dead jobs
				dead, err := q.Dead(t.Context(), "intr", 10)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range dead {
					if string(d.Payload) != "poison" {
						t.Fatalf("job %s is dead after %d crashes: %+v", d.Payload, crashes, d.History)
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("worker silent for 20s; done: %v", done)
				}
			}
		}
	}
	for p, started := range done {
		if started != "started attempt=1 interrupted=0" && started != "started attempt=1 interrupted=1" {
			t.Errorf("job %s ran as %q after %d crashes, want attempt 1 with at most 1 interruption", p, started, crashes)
		}
	}
	dead, err := q.Dead(t.Context(), "intr", 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dead {
		if string(d.Payload) != "poison" {
			t.Errorf("job %s is dead: %+v", d.Payload, d.History)
		}
	}
	t.Logf("%d crashes; runs: %v", crashes, done)
}
