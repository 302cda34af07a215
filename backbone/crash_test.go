package backbone_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plykit/ply/backbone"
)

const crashMessages = 200

// TestCrashChild is the host that TestKill9KeepsAckedMessages kills: it
// runs only as that test's child process.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv("BACKBONE_CRASH_DIR")
	if dir == "" {
		t.Skip("runs as the child of TestKill9KeepsAckedMessages")
	}
	_, _, u := start(t, backbone.Options{DataDir: dir})
	ctx := context.Background()
	if _, err := u.js.CreateStream(ctx, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}}); err != nil {
		t.Fatal(err)
	}
	for i := range crashMessages {
		if _, err := u.js.Publish(ctx, "orders."+strconv.Itoa(i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stdout.WriteString("acked " + strconv.Itoa(crashMessages) + "\n"); err != nil {
		t.Fatal(err)
	}
	select {} // wait for SIGKILL
}

// A message JetStream acknowledged survives a kill -9 of the host running
// the embedded server (with the default sync policy: the data is in the
// operating system's cache, so only a power loss needs Sync "always").
func TestKill9KeepsAckedMessages(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1") //nolint:gosec // re-runs this test binary itself, with fixed arguments
	cmd.Env = append(os.Environ(), "BACKBONE_CRASH_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "acked ") {
			acked = true
			break
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if !acked {
		t.Fatal("child exited before it acknowledged its messages")
	}

	_, _, u := start(t, backbone.Options{DataDir: dir})
	s, err := u.js.Stream(t.Context(), "ORDERS")
	if err != nil {
		t.Fatalf("stream after kill -9: %v", err)
	}
	if got := s.CachedInfo().State.Msgs; got != crashMessages {
		t.Errorf("messages after kill -9 = %d, want %d", got, crashMessages)
	}
}
