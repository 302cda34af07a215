package jobqueue_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
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

// crashWorkerEnv, set to a server URL, turns the test binary into a worker
// process for TestCrashRecovery (see TestMain).
const crashWorkerEnv = "JOBQUEUE_CRASH_WORKER"

// crashOpts configure the Queue of the crash test and its worker processes
// alike. The short ack wait hands a killed worker's jobs out again within a
// second. The attempts and interruptions are the defaults: a kill uses no
// attempt, and four kills stay below the bound of interruptions.
func crashOpts() []jobqueue.Option {
	return []jobqueue.Option{
		jobqueue.WithStream("CRASH"), jobqueue.WithAckWait(time.Second),
		jobqueue.WithLogger(slog.New(slog.DiscardHandler)),
	}
}

// childJetStream connects a worker process to the test's server at url;
// fail reports an error as who's and exits, since a child has no *testing.T.
func childJetStream(url, who string) (js jetstream.JetStream, fail func(error)) {
	fail = func(err error) {
		fmt.Fprintln(os.Stderr, who+":", err)
		os.Exit(2)
	}
	nc, err := nats.Connect(url)
	if err != nil {
		fail(err)
	}
	if js, err = jetstream.New(nc); err != nil {
		fail(err)
	}
	return js, fail
}

// crashWorker handles the "crash" queue until the process is killed,
// recording each completed job as a key of the KV bucket crash_done.
func crashWorker(url string) {
	js, fail := childJetStream(url, "crash worker")
	ctx := context.Background()
	kv, err := js.KeyValue(ctx, "crash_done")
	if err != nil {
		fail(err)
	}
	q, err := jobqueue.New(ctx, js, crashOpts()...)
	if err != nil {
		fail(err)
	}
	if err := q.Handle(ctx, "crash", func(ctx context.Context, j *jobqueue.Job) error {
		time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond) //nolint:gosec // the job's work: a random duration, not a secret
		_, err := kv.Put(ctx, j.ID, []byte(fmt.Sprint(j.Attempt)))
		return err
	}, jobqueue.WithConcurrency(4)); err != nil {
		fail(err)
	}
	select {} // until SIGKILL
}

// TestCrashRecovery kills worker processes (SIGKILL) while they run jobs:
// every job still completes, at least once.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	url := natstest.Server(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: "crash_done"})
	if err != nil {
		t.Fatal(err)
	}
	q, err := jobqueue.New(t.Context(), js, crashOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	const jobs = 200
	want := make(map[string]bool, jobs)
	for i := range jobs {
		id, err := jobqueue.Enqueue(t.Context(), q, "crash", []byte(fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		want[id] = true
	}
	done := func() uint64 {
		st, err := kv.Status(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return st.Values()
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	start := func() *exec.Cmd {
		cmd := exec.CommandContext(t.Context(), exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), crashWorkerEnv+"="+url)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	kill := func(cmd *exec.Cmd) {
		_ = cmd.Process.Kill() // SIGKILL: no chance to stop gracefully
		_ = cmd.Wait()
	}
	const kills = 4
	for k := range kills {
		cmd := start()
		before := done()
		eventually(t, 15*time.Second, "worker made no progress", func() bool { return done() >= before+20 || done() == jobs })
		kill(cmd)
		t.Logf("kill %d: %d of %d jobs done", k+1, done(), jobs)
	}
	cmd := start()
	eventually(t, 20*time.Second, "jobs lost after the kills", func() bool { return done() == jobs })
	kill(cmd)

	keys, err := kv.ListKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for k := range keys.Keys() {
		if !want[k] {
			t.Errorf("completed job %s was never enqueued", k)
		}
		got++
	}
	if got != jobs {
		t.Errorf("%d distinct jobs completed, want %d", got, jobs)
	}
}
