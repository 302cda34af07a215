package backbone_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plykit/ply"
	"github.com/plykit/ply/backbone"
)

func TestDefaultDataDir(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("the home directory is not $HOME here")
	}
	data, home := t.TempDir(), t.TempDir()
	for _, tt := range []struct {
		name, xdg, home string
		want            string // "" for an error
	}{
		{name: "XDG_DATA_HOME", xdg: data, home: home, want: filepath.Join(data, "ply", "backbone")},
		{name: "relative XDG_DATA_HOME is ignored", xdg: "rel/data", home: home, want: filepath.Join(home, ".local", "share", "ply", "backbone")},
		{name: "home", home: home, want: filepath.Join(home, ".local", "share", "ply", "backbone")},
		{name: "no home"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("XDG_DATA_HOME", tt.xdg)
			t.Setenv("HOME", tt.home)
			t.Setenv("XDG_CACHE_HOME", "")
			got, err := backbone.DefaultDataDir()
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), "dataDir") {
					t.Errorf("DefaultDataDir() = %q, %v; want an error naming the dataDir option", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("DefaultDataDir() = %q, %v; want %q", got, err, tt.want)
			}
			if cache, err := os.UserCacheDir(); err == nil && strings.HasPrefix(got, cache) {
				t.Errorf("DefaultDataDir() = %q is in the cache directory %s", got, cache)
			}
		})
	}
}

// The zero options keep their data in the default directory, which they
// create, and lock.
func TestZeroOptionsUseDefaultDataDir(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	dir, err := backbone.DefaultDataDir()
	if err != nil {
		t.Fatal(err)
	}
	_, bb, _ := start(t, backbone.Options{})
	if got, want := bb.Server().StoreDir(), filepath.Join(dir, "jetstream"); got != want {
		t.Errorf("StoreDir() = %q, want %q", got, want)
	}
	err = startErr(t, backbone.Options{})
	if !errors.Is(err, backbone.ErrDataDirInUse) {
		t.Errorf("second Start on the default directory = %v, want ErrDataDirInUse", err)
	}
}

// Two backbones of one process cannot share a directory either.
func TestDataDirInUseInProcess(t *testing.T) {
	dir := t.TempDir()
	start(t, backbone.Options{DataDir: dir})
	err := startErr(t, backbone.Options{DataDir: dir})
	if !errors.Is(err, backbone.ErrDataDirInUse) {
		t.Fatalf("second Start = %v, want ErrDataDirInUse", err)
	}
	if pe, ok := errors.AsType[*ply.PluginError](err); !ok || pe.Plugin != "backbone" {
		t.Errorf("Start = %v, want a *ply.PluginError naming backbone", err)
	}
	for _, want := range []string{dir, "pid " + strconv.Itoa(os.Getpid()), "dataDir"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

const dirChildEnv = "BACKBONE_DIR_CHILD"

// TestDataDirChild is a host holding the data directory $BACKBONE_DIR_CHILD,
// for the tests below: it runs only as their child process. It prints
// "holding" once the backbone started, or "in use" if the directory was
// held, then obeys its input: "publish N" publishes N messages to a
// work-queue stream and prints "confirmed K" (the acknowledged ones);
// "stop" (or the end of the input) stops the host and exits.
func TestDataDirChild(t *testing.T) {
	dir := os.Getenv(dirChildEnv)
	if dir == "" {
		t.Skip("runs as the child of the data directory tests")
	}
	bb, u := backbone.New(backbone.Options{DataDir: dir}), &user{}
	h, err := ply.New([]ply.Plugin{u, bb}, ply.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		if errors.Is(err, backbone.ErrDataDirInUse) {
			fmt.Println("in use")
			return
		}
		t.Fatal(err)
	}
	defer func() {
		if err := h.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	fmt.Println("holding")
	ctx := context.Background()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		n, ok := strings.CutPrefix(in.Text(), "publish ")
		if !ok {
			return
		}
		count, _ := strconv.Atoi(n)
		if _, err := u.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name: "JOBS", Subjects: []string{"jobs.>"}, Retention: jetstream.WorkQueuePolicy,
		}); err != nil {
			fmt.Println("error", err)
			return
		}
		confirmed := 0
		for i := range count {
			if _, err := u.js.Publish(ctx, "jobs."+strconv.Itoa(i), []byte("x")); err == nil {
				confirmed++
			}
		}
		fmt.Println("confirmed", confirmed)
	}
}

// child is a TestDataDirChild process.
type child struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startChild(t *testing.T, dir string) *child {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestDataDirChild$", "-test.count=1") //nolint:gosec // G204: the test binary itself
	cmd.Env = append(os.Environ(), dirChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		cancel()
	})
	return &child{cmd: cmd, in: in, out: bufio.NewScanner(out)}
}

// report returns the child's next report: a line starting with "holding",
// "in use", "confirmed" or "error" (the test binary prints others).
func (c *child) report() (string, error) {
	for c.out.Scan() {
		line := c.out.Text()
		for _, p := range []string{"holding", "in use", "confirmed ", "error "} {
			if strings.HasPrefix(line, p) {
				return line, nil
			}
		}
	}
	return "", fmt.Errorf("child %d exited without a report", c.cmd.Process.Pid)
}

func (c *child) tell(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(c.in, line+"\n"); err != nil {
		t.Fatalf("tell child %q: %v", line, err)
	}
}

// A second process cannot start a backbone on a directory that a running
// one holds: it gets ErrDataDirInUse, naming the directory and the holder.
// Once the holder is killed (kill -9, no clean-up), the directory is free.
func TestDataDirHeldByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	c := startChild(t, dir)
	if got, err := c.report(); got != "holding" {
		t.Fatalf("child reports %q, %v; want holding", got, err)
	}
	err := startErr(t, backbone.Options{DataDir: dir})
	if !errors.Is(err, backbone.ErrDataDirInUse) {
		t.Fatalf("Start while another process holds the directory = %v, want ErrDataDirInUse", err)
	}
	for _, want := range []string{dir, "pid " + strconv.Itoa(c.cmd.Process.Pid), "dataDir", "stop that process"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}

	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = c.cmd.Wait()
	_, bb, _ := start(t, backbone.Options{DataDir: dir})
	if err := bb.Health(t.Context()); err != nil {
		t.Errorf("Health after taking the directory of a killed holder = %v", err)
	}
}

// Two processes started on one directory at once: before the lock, both
// ran a server on it and lost jobs that both had confirmed (issue #8). Now
// the second is refused, and every confirmed message is in the stream.
func TestTwoProcessesOneDataDirLoseNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	const each = 3000
	dir := t.TempDir()
	children := []*child{startChild(t, dir), startChild(t, dir)}
	var holders []*child
	for _, c := range children {
		got, err := c.report()
		switch got {
		case "holding":
			holders = append(holders, c)
		case "in use":
		default:
			t.Fatalf("child reports %q, %v; want holding or in use", got, err)
		}
	}
	if len(holders) != 1 {
		t.Errorf("%d processes run a server on one data directory, want 1", len(holders))
	}
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		confirmed uint64
	)
	for _, c := range holders {
		c.tell(t, "publish "+strconv.Itoa(each))
		wg.Go(func() {
			got, err := c.report()
			n, ok := strings.CutPrefix(got, "confirmed ")
			if !ok {
				t.Errorf("child reports %q, %v; want confirmed N", got, err)
				return
			}
			k, _ := strconv.ParseUint(n, 10, 64)
			mu.Lock()
			confirmed += k
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, c := range holders {
		c.tell(t, "stop")
	}
	for _, c := range children {
		if err := c.cmd.Wait(); err != nil {
			t.Errorf("child %d: %v", c.cmd.Process.Pid, err)
		}
	}
	_, _, u := start(t, backbone.Options{DataDir: dir})
	s, err := u.js.Stream(t.Context(), "JOBS")
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	if got := s.CachedInfo().State.Msgs; got != confirmed {
		t.Errorf("stream holds %d messages, %d were confirmed", got, confirmed)
	}
}

// A host on the default directory warns when the old default, in the cache
// directory, holds data and the new one does not.
func TestOldDefaultDataDirWarned(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the cache directory is $XDG_CACHE_HOME on Linux only")
	}
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	old := filepath.Join(cache, "ply", "backbone")
	if err := os.MkdirAll(filepath.Join(old, "jetstream"), 0o700); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	start(t, backbone.Options{}, ply.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), old) {
		t.Errorf("no warning naming the old directory %s:\n%s", old, logs.String())
	}
}

// A preview (ply explain, ply graph) runs beside the host it describes: it
// neither takes the host's data directory nor binds its port, and it
// leaves no directory behind.
func TestPreviewBesideTheRunningHost(t *testing.T) {
	dir := t.TempDir()
	opts := backbone.Options{DataDir: dir, Listen: "127.0.0.1:0", User: "u", Password: "p"}
	start(t, opts)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where the preview's throwaway directory goes
	h, err := ply.New([]ply.Plugin{backbone.New(opts)}, ply.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Preview(t.Context()); err != nil {
		t.Fatalf("Preview beside a running host = %v, want nil", err)
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("the preview left %d entries in %s, want none", len(left), tmp)
	}
}
