package natstest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/plykit/ply/internal/placement"
)

const serverModule = "github.com/nats-io/nats-server/v2"

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary returns the path of a nats-server executable built from the same
// module version as the embedded server. The first call in a process builds
// it (go build) into os.UserCacheDir()/ply-natstest/<version>/ unless a
// previous run already did; concurrent test binaries may race to build, and
// each renames its result into place atomically. It fails the test if the
// build fails.
func Binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() { binPath, binErr = build() })
	if binErr != nil {
		t.Fatalf("natstest: build nats-server: %v", binErr)
	}
	return binPath
}

// serverVersion is the version of the linked nats-server module: test
// binaries carry no module build info, but the server states its version.
func serverVersion() string { return "v" + server.VERSION }

func build() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	version := serverVersion()
	dir := filepath.Join(cache, "ply-natstest", version+"-"+runtime.GOOS+"-"+runtime.GOARCH)
	exe := filepath.Join(dir, "nats-server")
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	if fi, err := os.Stat(exe); err == nil && fi.Mode().IsRegular() {
		return exe, nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, "build-*")
	if err != nil {
		return "", err
	}
	tmpName := tmp.Name()
	_ = tmp.Close()                           // only its name is wanted: go build writes the file
	defer func() { _ = os.Remove(tmpName) }() // gone after the rename; cleans up on failure
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "", err
	}
	// Built in the module of the test (its go.mod pins the server version),
	// so the binary has the embedded server's exact dependencies.
	var out bytes.Buffer
	// The build is shared by every test (binOnce): no test's context bounds it.
	cmd := exec.CommandContext(context.Background(), gobin, "build", "-o", tmpName, serverModule) //nolint:gosec // fixed package path
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", serverModule, err, out.Bytes())
	}
	if err := os.Rename(tmpName, exe); err != nil {
		return "", err
	}
	return exe, nil
}

// Proc is a nats-server process started by [Start] or [StartCluster]. Tests
// can kill it (SIGKILL, as a crash) and restart it with the same arguments,
// ports and store directory. It is killed in t.Cleanup. Its methods are safe
// for concurrent use.
type Proc struct {
	name string // unique server name, to recognize it on its port
	bin  string
	args []string
	url  string
	log  string // file receiving the process's output

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// URL returns the client URL, nats://127.0.0.1:<port>.
func (p *Proc) URL() string { return p.url }

// Kill kills the process (SIGKILL) and waits for it to exit. It does nothing
// if the process is not running.
func (p *Proc) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.killLocked()
}

func (p *Proc) killLocked() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	p.cmd, p.done = nil, nil
}

// Restart kills the process if it runs, starts it again with the same
// arguments and waits until it accepts connections (not for JetStream: in
// a cluster that needs a quorum). It fails the test if it cannot.
func (p *Proc) Restart(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	p.killLocked()
	err := p.startLocked()
	p.mu.Unlock()
	if err != nil {
		t.Fatalf("natstest: restart nats-server: %v", err)
	}
	if err := p.waitConnect(); err != nil {
		t.Fatalf("natstest: %v", err)
	}
}

func (p *Proc) startLocked() error {
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	// The child gets its own descriptor for the log; ours closes on return.
	defer func() { _ = f.Close() }()
	// The process outlives this call: Kill and t.Cleanup end it, not a context.
	cmd := exec.CommandContext(context.Background(), p.bin, p.args...) //nolint:gosec // test helper: binary and args are ours
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	p.cmd, p.done = cmd, done
	return nil
}

func (p *Proc) exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return p.done
}

func (p *Proc) output() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

// waitConnect polls until the server accepts a TCP connection and greets
// it with its INFO line naming it (whatever credentials or TLS it then
// requires), the process exits, or ReadyTimeout passes.
func (p *Proc) waitConnect() error {
	addr := strings.TrimPrefix(p.url, "nats://")
	return poll(p, func() error {
		d := net.Dialer{Timeout: time.Second}
		c, err := d.DialContext(context.Background(), "tcp", addr)
		if err != nil {
			return err
		}
		defer func() { _ = c.Close() }()
		if err := c.SetReadDeadline(time.Now().Add(time.Second)); err != nil {
			return err
		}
		line, err := bufio.NewReader(io.LimitReader(c, 64<<10)).ReadString('\n')
		if err != nil {
			return err
		}
		js, ok := strings.CutPrefix(line, "INFO ")
		if !ok {
			return fmt.Errorf("greeting %q, want INFO", line)
		}
		var info struct {
			Name string `json:"server_name"`
		}
		if err := json.Unmarshal([]byte(js), &info); err != nil {
			return fmt.Errorf("greeting %q: %w", line, err)
		}
		if info.Name != p.name {
			// Another process took the port first; ours will exit.
			return fmt.Errorf("port taken by server %q, not ours (%q)", info.Name, p.name)
		}
		return nil
	})
}

// waitJetStream polls a JetStream account-info request through p, which
// in a cluster succeeds once there is a meta leader.
func (p *Proc) waitJetStream() error {
	return p.pollJetStream(time.Second, func(ctx context.Context, js jetstream.JetStream) error {
		_, err := js.AccountInfo(ctx)
		return err
	})
}

// pollJetStream polls try, each time on a fresh connection to p and with a
// timeout, until it succeeds.
func (p *Proc) pollJetStream(timeout time.Duration, try func(context.Context, jetstream.JetStream) error) error {
	return poll(p, func() error {
		nc, err := nats.Connect(p.url, nats.Timeout(time.Second), nats.NoReconnect())
		if err != nil {
			return err
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return try(ctx, js)
	})
}

func poll(p *Proc, try func() error) error {
	deadline := time.Now().Add(ReadyTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	exited := p.exited()
	for {
		err := try()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nats-server %s not ready within %v: %w\n%s", p.url, ReadyTimeout, err, p.output())
		}
		select {
		case <-exited:
			return fmt.Errorf("nats-server %s exited: %w\n%s", p.url, err, p.output())
		case <-tick.C:
		}
	}
}

// freePorts returns n distinct TCP ports on 127.0.0.1 that were free a
// moment ago.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, n)
	ls := make([]net.Listener, n)
	for i := range n {
		var lc net.ListenConfig
		l, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("natstest: free port: %v", err)
		}
		ls[i] = l
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	for _, l := range ls {
		_ = l.Close() // only its port was wanted
	}
	return ports
}

var procSeq atomic.Int64

func newProc(t testing.TB, port int, args []string) *Proc {
	t.Helper()
	dir := t.TempDir()
	name := "natstest-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(procSeq.Add(1), 10)
	base := []string{"-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js", "-sd", filepath.Join(dir, "store"), "--server_name", name}
	p := &Proc{
		name: name,
		bin:  Binary(t),
		args: append(base, args...),
		url:  "nats://127.0.0.1:" + strconv.Itoa(port),
		log:  filepath.Join(dir, "nats-server.log"),
	}
	p.mu.Lock()
	err := p.startLocked()
	p.mu.Unlock()
	if err != nil {
		t.Fatalf("natstest: start nats-server: %v", err)
	}
	t.Cleanup(p.Kill)
	return p
}

// Start starts one nats-server process on 127.0.0.1 with a free client port
// and JetStream (store in t.TempDir()), with args appended to the command
// line (credentials, TLS…; not --server_name, which Start sets), and waits until it greets a TCP client: a
// single server enables JetStream before it accepts clients. It is killed
// in t.Cleanup.
func Start(t testing.TB, args ...string) *Proc {
	t.Helper()
	var err error
	for range attempts {
		p := newProc(t, freePorts(t, 1)[0], args)
		if err = p.waitConnect(); err == nil {
			return p
		}
		if !p.hasExited() {
			break // running but not ready: another attempt would not help
		}
		p.Kill()
	}
	t.Fatalf("natstest: %v", err)
	return nil
}

// attempts is how often Start and StartCluster try, with new ports, when a
// process exits before it is ready: another test binary may have taken a
// port between freePorts and the server's listen.
const attempts = 3

func (p *Proc) hasExited() bool {
	select {
	case <-p.exited():
		return true
	default:
		return false
	}
}

// Server is [Start] returning only the client URL.
func Server(t testing.TB, args ...string) string {
	t.Helper()
	return Start(t, args...).URL()
}

// StartCluster starts n nats-server processes on 127.0.0.1 (free client and
// cluster ports, each routed to all) forming one JetStream cluster named
// "natstest", and waits until every member answers JetStream requests, which
// needs a meta leader. They are killed in t.Cleanup.
func StartCluster(t testing.TB, n int) []*Proc {
	t.Helper()
	if n < 1 {
		t.Fatalf("natstest: cluster of %d servers", n)
	}
	var err error
	for range attempts {
		var procs []*Proc
		procs, err = startCluster(t, n)
		if err == nil {
			return procs
		}
		exited := false
		for _, p := range procs {
			exited = exited || p.hasExited()
			p.Kill()
		}
		if !exited {
			break
		}
	}
	t.Fatalf("natstest: cluster: %v", err)
	return nil
}

func startCluster(t testing.TB, n int) ([]*Proc, error) {
	t.Helper()
	ports := freePorts(t, 2*n)
	routes := make([]string, n)
	for i := range n {
		routes[i] = "nats://127.0.0.1:" + strconv.Itoa(ports[n+i])
	}
	procs := make([]*Proc, n)
	for i := range n {
		procs[i] = newProc(t, ports[i], []string{
			"--cluster_name", "natstest",
			"--cluster", routes[i],
			"--routes", strings.Join(routes, ","),
		})
	}
	var errs []error
	for _, p := range procs {
		err := p.waitConnect() // ours on its port, before asking through it
		if err == nil {
			err = p.waitJetStream()
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 && n > 1 {
		errs = append(errs, procs[0].waitPeers(n))
	}
	return procs, errors.Join(errs...)
}

// waitPeers waits until a stream with n replicas can be placed: a server
// answers JetStream requests as soon as the cluster has a meta leader,
// before every server joined it as a peer, and a replicated stream created
// in between fails with "no suitable peers for placement".
func (p *Proc) waitPeers(n int) error {
	return p.pollJetStream(2*time.Second, func(ctx context.Context, js jetstream.JetStream) error {
		const name = "NATSTEST_READY"
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{"natstest.ready"}, Replicas: n, Storage: jetstream.MemoryStorage}); err != nil {
			return err
		}
		return js.DeleteStream(ctx, name)
	})
}

// Cluster is [StartCluster] returning only the client URLs.
func Cluster(t testing.TB, n int) []string {
	t.Helper()
	procs := StartCluster(t, n)
	urls := make([]string, n)
	for i, p := range procs {
		urls[i] = p.URL()
	}
	return urls
}

// CreateStream creates a stream as the wiring of a host would, waiting for
// a cluster that cannot place its replicas yet ([placement.Create]): a
// cluster that answered [StartCluster]'s readiness checks may still change
// its meta leader, whose successor places streams only on servers it has
// heard from since. It fails the test on any other error.
func CreateStream(t testing.TB, js jetstream.JetStream, cfg jetstream.StreamConfig) jetstream.Stream {
	t.Helper()
	s, err := placement.Create(context.Background(), func(ctx context.Context) (jetstream.Stream, error) {
		return js.CreateStream(ctx, cfg)
	})
	if err != nil {
		t.Fatalf("natstest: create stream %s with %d replicas: %v", cfg.Name, cfg.Replicas, err)
	}
	return s
}
