package campaign

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plykit/ply/internal/fleet"
	"github.com/plykit/ply/internal/natstest"
	"github.com/plykit/ply/jobqueue"
)

// plan is a campaign's size.
type plan struct {
	kills       int           // kill -9 of a host, each restarted
	natsEvery   int           // a NATS server is killed every natsEvery host kills, and restarted two kills later
	pushEvery   int           // a good revision is pushed every pushEvery host kills
	brokenAt    int           // the host kill after which a revision the hosts cannot apply is pushed
	jobEvery    time.Duration // one job enqueued this often
	requestRate time.Duration // each load goroutine sends one request this often
}

var plans = map[string]plan{
	"short": {kills: 8, natsEvery: 4, pushEvery: 3, brokenAt: 5, jobEvery: 10 * time.Millisecond, requestRate: 10 * time.Millisecond},
	"long":  {kills: 100, natsEvery: 20, pushEvery: 10, brokenAt: 50, jobEvery: 10 * time.Millisecond, requestRate: 10 * time.Millisecond},
}

const (
	hostCount   = 3
	jobWork     = 20 // ms each job runs
	loadWorkers = 2
	// settle bounds each wait of the schedule: a host to be ready, to
	// process a job, the fleet to answer a push.
	settle = 60 * time.Second
	// drainWait bounds the wait, at the end, for every enqueued job.
	drainWait = 3 * time.Minute
)

// hostConfig is the revision the hosts run: text is what GET /hello
// answers; broken adds a variable that only pushers set, so the revision
// validates where it is pushed and fails to load on every host.
func hostConfig(text string, broken bool) string {
	extra := ""
	if broken {
		extra = "\n          headers: {X-Secret: \"${PLY_CAMPAIGN_PUSHER_ONLY}\"}"
	}
	return fmt.Sprintf(`plugins:
  - name: httpserver
    options: {addr: "127.0.0.1:${PLY_PORT}"}
  - name: backbone
    options:
      urls: ["${NATS_1}", "${NATS_2}", "${NATS_3}"]
  - name: jobs
    options: {replicas: 3, ackWait: 2s, maxInterruptions: 1000, concurrency: 4}
modules:
  - name: site
    routes:
      - route: GET /hello
        static:
          text: %q%s
`, text, extra)
}

// jobOptions are the queue's options as the hosts' jobs plugin sets them.
func jobOptions() []jobqueue.Option {
	return []jobqueue.Option{jobqueue.WithReplicas(3), jobqueue.WithAckWait(2 * time.Second), jobqueue.WithMaxInterruptions(1000)}
}

// host is one ply run process.
type host struct {
	id, dir  string
	port     int
	cmd      *exec.Cmd
	done     chan struct{}
	started  time.Time
	failures int // exits on its own since it was last ready
}

type campaign struct {
	t      *testing.T
	plan   plan
	bin    string
	dir    string
	file   string // the hosts' own file
	nats   []*natstest.Proc
	urls   []string
	hosts  []*host
	fleet  *fleet.Fleet
	client *http.Client

	mu       sync.Mutex
	requests map[string]int // outcome -> count
	health   map[string]int // healthz outcome -> count
	starts   map[string]int // hosts that exited on their own, pushes retried: by cause
	enqueued []string       // job IDs Enqueue returned for
	enqErrs  map[string]int // enqueue failures by cause, each retried
	reloads  []reloadRow
	events   []string // the schedule as it ran
}

type reloadRow struct {
	revision       uint64
	kind           string // "good" or "broken"
	ok, refused    int
	maxLatency     time.Duration // push to the last host's report
	slowest        string        // the host that reported last
	sameGeneration bool
}

func TestCampaign(t *testing.T) {
	mode := os.Getenv("PLY_CAMPAIGN")
	if mode == "" {
		t.Skip("the campaign runs from scripts/campaign.sh (PLY_CAMPAIGN=short or long)")
	}
	p, ok := plans[mode]
	if !ok {
		t.Fatalf("PLY_CAMPAIGN=%q: want short or long", mode)
	}
	if s := os.Getenv("PLY_CAMPAIGN_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			t.Fatalf("PLY_CAMPAIGN_KILLS=%q: want a number", s)
		}
		p.kills = n
	}
	c := &campaign{t: t, plan: p, dir: t.TempDir(), requests: map[string]int{}, health: map[string]int{}, starts: map[string]int{}, enqErrs: map[string]int{},
		client: &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}}
	began := time.Now()
	c.bin = buildHost(t, c.dir)
	c.nats = natstest.StartCluster(t, 3)
	for _, p := range c.nats {
		c.urls = append(c.urls, p.URL())
	}
	nc, err := nats.Connect(strings.Join(c.urls, ","), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if c.fleet, err = fleet.Open(t.Context(), js, fleet.Namespace, 3); err != nil {
		t.Fatal(err)
	}
	q, err := jobqueue.New(t.Context(), js, jobOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = q.Stop(context.Background()) }() // enqueues only: nothing to drain

	c.file = filepath.Join(c.dir, "ply.yaml")
	if err := os.WriteFile(c.file, []byte(hostConfig("file", false)), 0o600); err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, hostCount)
	for i := range hostCount {
		h := &host{id: fmt.Sprintf("h%d", i+1), port: ports[i], dir: filepath.Join(c.dir, fmt.Sprintf("h%d", i+1))}
		if err := os.MkdirAll(h.dir, 0o750); err != nil {
			t.Fatal(err)
		}
		c.hosts = append(c.hosts, h)
		c.start(h)
	}
	defer func() {
		for _, h := range c.hosts {
			c.kill(h)
		}
	}()
	for _, h := range c.hosts {
		c.waitReady(h)
	}
	c.push(hostConfig("rev-0", false), "good")

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range loadWorkers {
		wg.Go(func() { c.load(ctx) })
	}
	wg.Go(func() { c.probeHealth(ctx) })
	wg.Go(func() { c.enqueue(ctx, q) })

	down := -1 // the NATS server that is down, and the kill that restarts it
	upAt := -1
	for i := range p.kills {
		h := c.hosts[i%hostCount]
		c.waitProcessing(h)
		c.kill(h)
		c.logf("kill -9 %s", h.id)
		c.start(h)
		c.waitReady(h)
		switch {
		case i == upAt:
			c.nats[down].Restart(t)
			c.logf("restart nats %d", down)
			down, upAt = -1, -1
		case p.natsEvery > 0 && i%p.natsEvery == p.natsEvery-1 && down < 0:
			down, upAt = (i/p.natsEvery)%3, i+2
			c.nats[down].Kill()
			c.logf("kill -9 nats %d", down)
		}
		if p.pushEvery > 0 && i%p.pushEvery == p.pushEvery-1 {
			c.push(hostConfig(fmt.Sprintf("rev-%d", i+1), false), "good")
		}
		if i == p.brokenAt {
			c.push(hostConfig("broken", true), "broken")
			c.push(hostConfig(fmt.Sprintf("rev-%d-fixed", i+1), false), "good")
		}
	}
	if down >= 0 {
		c.nats[down].Restart(t)
		c.logf("restart nats %d", down)
	}
	stop()
	wg.Wait()

	c.logf("waiting for every enqueued job")
	done, runs := c.awaitJobs()
	dead := c.deadJobs(js)
	lost := 0
	for _, id := range c.enqueued {
		if done[id] == 0 {
			lost++
		}
	}
	final := c.checkConverged()
	c.report(mode, time.Since(began), len(c.enqueued), len(done), runs, lost, dead, final)
	if lost > 0 || dead > 0 {
		t.Errorf("%d of %d enqueued jobs never completed, %d dead", lost, len(c.enqueued), dead)
	}
}

// deadJobs returns how many jobs the dead-letter stream holds, asking
// until the cluster answers.
func (c *campaign) deadJobs(js jetstream.JetStream) int {
	c.t.Helper()
	var n uint64
	c.poll("the dead-letter stream's size", func() error {
		ctx, cancel := context.WithTimeout(c.t.Context(), 5*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, "PLY_JOBS_DEAD")
		if err != nil {
			return err
		}
		info, err := s.Info(ctx)
		if err != nil {
			return err
		}
		n = info.State.Msgs
		return nil
	})
	return int(n)
}

// reconnections counts the hosts' backbone reconnections in their logs:
// a host whose NATS server was killed reconnects to another, or to it
// once restarted, without a restart of its own.
func (c *campaign) reconnections() int {
	n := 0
	for _, h := range c.hosts {
		log, _ := os.ReadFile(filepath.Join(h.dir, "ply.log"))
		n += bytes.Count(log, []byte(`msg="backbone reconnected"`))
	}
	return n
}

// buildHost builds ./plyhost, the ply command with the campaign's job
// handler, once.
func buildHost(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "ply")
	out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./plyhost").CombinedOutput() //nolint:gosec // go, in our temporary directory
	if err != nil {
		t.Fatalf("go build ./plyhost: %v\n%s", err, out)
	}
	return bin
}

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		_ = l.Close() // only its port was wanted
	}
	return ports
}

func (c *campaign) env(port int) []string {
	env := append(os.Environ(), "PLY_PORT="+strconv.Itoa(port))
	for i, u := range c.urls {
		env = append(env, fmt.Sprintf("NATS_%d=%s", i+1, u))
	}
	return env
}

// start runs ply run for h; its output goes to h's log.
func (c *campaign) start(h *host) {
	c.t.Helper()
	logf, err := os.OpenFile(filepath.Join(h.dir, "ply.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		c.t.Fatal(err)
	}
	defer func() { _ = logf.Close() }() // the child has its own descriptor
	// The process outlives this call: kill ends it, not a context.
	cmd := exec.CommandContext(context.Background(), c.bin, "run", c.file, "--fleet", strings.Join(c.urls, ","), //nolint:gosec // our binary and arguments
		"--fleet-replicas", "3", "--host-id", h.id, "--drain-grace", "5s")
	cmd.Env = append(c.env(h.port), "PLY_HOST_ID="+h.id, "PLY_CAMPAIGN_DONE="+filepath.Join(h.dir, "done.txt"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	h.cmd, h.done, h.started = cmd, make(chan struct{}), time.Now()
	done := h.done
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
}

// kill sends SIGKILL to h and waits for it to exit.
func (c *campaign) kill(h *host) {
	if h.cmd == nil {
		return
	}
	_ = h.cmd.Process.Signal(syscall.SIGKILL)
	<-h.done
	h.cmd = nil
}

// poll calls try every 20 ms until it returns nil or settle passes; then
// it fails the campaign with the end of every host's log.
func (c *campaign) poll(what string, try func() error) {
	c.t.Helper()
	deadline := time.Now().Add(settle)
	for {
		c.revive()
		err := try()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			var logs strings.Builder
			for _, h := range c.hosts {
				if h.cmd != nil { // a stuck host says where: the runtime dumps its goroutines on SIGQUIT
					_ = h.cmd.Process.Signal(syscall.SIGQUIT)
					<-h.done
					h.cmd = nil
				}
				log, _ := os.ReadFile(filepath.Join(h.dir, "ply.log"))
				if dir := os.Getenv("PLY_CAMPAIGN_KEEP"); dir != "" {
					_ = os.WriteFile(filepath.Join(dir, h.id+".log"), log, 0o600) //nolint:gosec // the directory the operator named
				}
				fmt.Fprintf(&logs, "\n--- %s:\n%s", h.id, log[max(0, len(log)-2500):])
			}
			c.t.Fatalf("%s: not within %v: %v%s", what, settle, err, logs.String())
		}
		time.Sleep(20 * time.Millisecond) // polling another process: nothing to wait on
	}
}

func (c *campaign) get(ctx context.Context, h *host, path string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", h.port, path), nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// maxStartFailures bounds how often a host may exit on its own in a row
// before the campaign gives up.
const maxStartFailures = 5

// revive starts again, as a supervisor would, a host that exited on its
// own — one whose plugins could not start while the cluster elected
// leaders after a server's loss — and counts it by its last words.
func (c *campaign) revive() {
	c.t.Helper()
	for _, h := range c.hosts {
		if h.cmd == nil {
			continue
		}
		select {
		case <-h.done:
		default:
			continue
		}
		log, _ := os.ReadFile(filepath.Join(h.dir, "ply.log"))
		last := strings.TrimSpace(string(log[max(0, len(log)-3000):]))
		if i := strings.LastIndex(last, "\n"); i >= 0 {
			last = last[i+1:]
		}
		if h.failures++; h.failures > maxStartFailures {
			c.t.Fatalf("%s exited %d times in a row:\n%s", h.id, h.failures, log[max(0, len(log)-3000):])
		}
		c.count(c.starts, "host exited, restarted: "+truncate(last, 90))
		h.cmd = nil
		c.start(h)
	}
}

// waitReady waits until h has reported to the fleet since it started: it
// reports once all its plugins started (and it answers HTTP).
func (c *campaign) waitReady(h *host) {
	c.t.Helper()
	c.poll(h.id+" ready", func() error {
		all, err := c.fleet.Statuses(context.Background())
		if err != nil {
			return err
		}
		i := slices.IndexFunc(all, func(s fleet.Status) bool { return s.Host == h.id })
		if i < 0 || !all[i].Time.After(h.started) {
			return errors.New("no status reported since it started")
		}
		h.failures = 0
		return nil
	})
}

// waitProcessing waits until h has completed a job since it started: a
// kill then hits a host that processes jobs, with more in flight.
func (c *campaign) waitProcessing(h *host) {
	c.t.Helper()
	path := filepath.Join(h.dir, "done.txt")
	before := size(path)
	c.poll(h.id+" processing jobs", func() error {
		if size(path) > before {
			return nil
		}
		return errors.New("no job completed yet")
	})
}

func size(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func (c *campaign) logf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, fmt.Sprintf(format, args...))
}

// load sends GET /hello to the hosts in turn until ctx is done, counting
// outcomes.
func (c *campaign) load(ctx context.Context) {
	tick := time.NewTicker(c.plan.requestRate)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		code, _, err := c.get(ctx, c.hosts[i%hostCount], "/hello")
		if ctx.Err() != nil {
			return
		}
		c.count(c.requests, outcome(code, err))
	}
}

// probeHealth asks every host's /healthz every 100 ms, counting what it
// answers: degraded while its backbone reconnects.
func (c *campaign) probeHealth(ctx context.Context) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, h := range c.hosts {
			code, body, err := c.get(ctx, h, "/healthz")
			if ctx.Err() != nil {
				return
			}
			o := outcome(code, err)
			if code != 0 && code != http.StatusOK {
				first, _, _ := strings.Cut(strings.TrimSpace(body), "\n")
				o += " " + truncate(first, 60)
			}
			c.count(c.health, o)
		}
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// outcome names a request's result by cause.
func outcome(code int, err error) string {
	switch {
	case err == nil && code == http.StatusOK:
		return "ok"
	case err == nil:
		return fmt.Sprintf("status %d", code)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused (host down)"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection reset (host killed mid-request)"
	case errors.Is(err, context.DeadlineExceeded), strings.Contains(err.Error(), "Timeout"):
		return "timeout"
	}
	return "other: " + truncate(err.Error(), 60)
}

func (c *campaign) count(m map[string]int, key string) {
	c.mu.Lock()
	m[key]++
	c.mu.Unlock()
}

// enqueue enqueues a job every jobEvery until ctx is done; each job is
// retried, under its idempotency key, until Enqueue returns for it.
func (c *campaign) enqueue(ctx context.Context, q *jobqueue.Queue) {
	tick := time.NewTicker(c.plan.jobEvery)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		id := fmt.Sprintf("job-%06d", n)
		for {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_, err := jobqueue.Enqueue(actx, q, "work", map[string]int{"ms": jobWork}, jobqueue.IdempotencyKey(id))
			cancel()
			if err == nil {
				c.mu.Lock()
				c.enqueued = append(c.enqueued, id)
				c.mu.Unlock()
				break
			}
			cause := "other: " + truncate(err.Error(), 60)
			switch {
			case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
				cause = "timeout"
			case errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, nats.ErrNoResponders):
				cause = "no responders (leader election)"
			}
			c.count(c.enqErrs, cause)
			if ctx.Err() != nil {
				return // this job never counted as enqueued
			}
		}
	}
}

// push pushes config with ply config push, then waits until every host
// has reported on the new revision, and records the outcome.
func (c *campaign) push(config, kind string) {
	c.t.Helper()
	path := filepath.Join(c.dir, "push.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		c.t.Fatal(err)
	}
	var (
		pushed time.Time
		out    []byte
		err    error
	)
	for range 3 { // a cluster electing a leader may not answer a push in time
		cmd := exec.CommandContext(c.t.Context(), c.bin, "config", "push", path, "--fleet", strings.Join(c.urls, ","), "--fleet-replicas", "3") //nolint:gosec // our binary
		cmd.Env = append(c.env(0), "PLY_CAMPAIGN_PUSHER_ONLY=pusher")
		pushed = time.Now()
		if out, err = cmd.CombinedOutput(); err == nil {
			break
		}
		c.count(c.starts, "push retried: "+truncate(strings.TrimSpace(string(out)), 80))
	}
	if err != nil {
		c.t.Fatalf("ply config push: %v\n%s", err, out)
	}
	_, num, ok := strings.Cut(strings.TrimSpace(string(out)), "as revision ")
	rev, perr := strconv.ParseUint(num, 10, 64)
	if !ok || perr != nil {
		c.t.Fatalf("ply config push said %q: no revision", out)
	}
	c.logf("push revision %d (%s)", rev, kind)
	var all []fleet.Status
	c.poll(fmt.Sprintf("every host reports on revision %d", rev), func() error {
		var err error
		if all, err = c.fleet.Statuses(context.Background()); err != nil {
			return err
		}
		for _, h := range c.hosts {
			i := slices.IndexFunc(all, func(s fleet.Status) bool { return s.Host == h.id })
			if i < 0 || all[i].Revision != rev && all[i].Refused != rev {
				return fmt.Errorf("%s has not reported yet", h.id)
			}
		}
		return nil
	})
	row := reloadRow{revision: rev, kind: kind, sameGeneration: true}
	for _, st := range all {
		if st.Revision == rev {
			row.ok++
		} else {
			row.refused++
		}
		if d := st.Time.Sub(pushed); d > row.maxLatency {
			row.maxLatency, row.slowest = d, st.Host
		}
		row.sameGeneration = row.sameGeneration && st.Revision == all[0].Revision
	}
	if row.maxLatency > 2*fleet.CheckEvery {
		c.slowLog(row.slowest, pushed)
	}
	if kind == "good" && row.ok != hostCount || kind == "broken" && row.refused != hostCount {
		c.t.Errorf("revision %d (%s): %d hosts applied it, %d refused: %+v", rev, kind, row.ok, row.refused, all)
	}
	if kind == "good" {
		for _, h := range c.hosts {
			if code, body, err := c.get(c.t.Context(), h, "/hello"); err != nil || code != http.StatusOK || !strings.Contains(config, strconv.Quote(body)) {
				c.t.Errorf("%s after revision %d: GET /hello = %d %q, %v; want the revision's text", h.id, rev, code, body, err)
			}
		}
	}
	c.mu.Lock()
	c.reloads = append(c.reloads, row)
	c.mu.Unlock()
}

// slowLog keeps, for the report, the lines host id logged about the fleet
// and its backbone since the push at pushed.
func (c *campaign) slowLog(id string, pushed time.Time) {
	i := slices.IndexFunc(c.hosts, func(h *host) bool { return h.id == id })
	if i < 0 {
		return
	}
	log, _ := os.ReadFile(filepath.Join(c.hosts[i].dir, "ply.log"))
	since := pushed.UTC().Format("2006-01-02T15:04:05")
	var lines []string
	for l := range strings.Lines(string(log)) {
		if t, ok := strings.CutPrefix(l, "time="); ok && t >= since && (strings.Contains(l, "fleet") || strings.Contains(l, "backbone")) {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	c.logf("slow report by %s: %s", id, strings.Join(lines, " | "))
}

// awaitJobs waits until every enqueued job completed, or drainWait
// passes, and returns the runs of each job and the runs in all.
func (c *campaign) awaitJobs() (map[string]int, int) {
	deadline := time.Now().Add(drainWait)
	for {
		c.revive()
		done, runs := c.completed()
		missing := 0
		for _, id := range c.enqueued {
			if done[id] == 0 {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			return done, runs
		}
		time.Sleep(200 * time.Millisecond) // polling the hosts' files
	}
}

// completed reads the hosts' done files.
func (c *campaign) completed() (map[string]int, int) {
	done := map[string]int{}
	runs := 0
	for _, h := range c.hosts {
		data, err := os.ReadFile(filepath.Join(h.dir, "done.txt"))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			c.t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			id, _, ok := strings.Cut(sc.Text(), " ")
			if !ok {
				c.t.Errorf("%s: torn line %q in done.txt", h.id, sc.Text())
				continue
			}
			done[id]++
			runs++
		}
	}
	return done, runs
}

// checkConverged checks that every host serves the fleet's current
// revision, with the same text, and returns the statuses.
func (c *campaign) checkConverged() []fleet.Status {
	cur, err := c.fleet.Current(c.t.Context())
	if err != nil {
		c.t.Fatal(err)
	}
	all, err := c.fleet.Statuses(c.t.Context())
	if err != nil {
		c.t.Fatal(err)
	}
	for _, st := range all {
		if st.Revision != cur.Number || !st.OK() {
			c.t.Errorf("host %s serves revision %d (refused %d: %s), want the current one, %d", st.Host, st.Revision, st.Refused, st.Error, cur.Number)
		}
	}
	return all
}

// report writes the campaign's table to the test log and, when
// PLY_CAMPAIGN_REPORT names a file, to it.
func (c *campaign) report(mode string, took time.Duration, enqueued, completed, runs, lost, dead int, final []fleet.Status) {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	row := func(cells ...any) {
		for i, cell := range cells {
			if i > 0 {
				_, _ = io.WriteString(tw, "\t")
			}
			_, _ = fmt.Fprint(tw, cell)
		}
		_, _ = io.WriteString(tw, "\n")
	}
	kills, natsKills := 0, 0
	for _, e := range c.events {
		if strings.HasPrefix(e, "kill -9 h") {
			kills++
		}
		if strings.HasPrefix(e, "kill -9 nats") {
			natsKills++
		}
	}
	row("campaign", mode, fmt.Sprintf("%v on %d NATS servers and %d hosts", took.Round(time.Second), len(c.nats), hostCount))
	row("faults", fmt.Sprintf("%d host kill -9", kills), fmt.Sprintf("%d NATS server kill -9 and restart", natsKills))
	row("")
	row("JOBS", "count")
	row("enqueued", enqueued)
	row("completed (distinct)", completed)
	row("runs", runs)
	row("duplicates (runs - distinct)", runs-completed)
	row("lost (enqueued, never completed)", lost)
	row("dead-lettered", dead)
	for _, k := range slices.Sorted(maps.Keys(c.enqErrs)) {
		row("enqueue retried: "+k, c.enqErrs[k])
	}
	for _, k := range slices.Sorted(maps.Keys(c.starts)) {
		row(k, c.starts[k])
	}
	row("")
	row("HTTP GET /hello", "count")
	total := 0
	for _, n := range c.requests {
		total += n
	}
	for _, k := range slices.Sorted(maps.Keys(c.requests)) {
		row(k, c.requests[k], fmt.Sprintf("%.2f%%", 100*float64(c.requests[k])/float64(max(total, 1))))
	}
	row("")
	row("hosts' backbone reconnections (no restart)", c.reconnections())
	row("")
	row("GET /healthz", "count")
	for _, k := range slices.Sorted(maps.Keys(c.health)) {
		row(k, c.health[k])
	}
	row("")
	row("RELOADS", "kind", "applied", "refused", "push→last report", "by")
	for _, r := range c.reloads {
		row(fmt.Sprintf("revision %d", r.revision), r.kind, r.ok, r.refused, r.maxLatency.Round(time.Millisecond), r.slowest)
	}
	row("")
	row("FINAL", "revision", "generation", "state")
	for _, st := range final {
		state := "ok"
		if !st.OK() {
			state = "refused " + strconv.FormatUint(st.Refused, 10)
		}
		row(st.Host, st.Revision, st.Generation, state)
	}
	_ = tw.Flush()
	c.t.Logf("schedule: %s", strings.Join(c.events, "; "))
	c.t.Logf("\n%s", b.String())
	if path := os.Getenv("PLY_CAMPAIGN_REPORT"); path != "" {
		if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil { //nolint:gosec // the file the operator named
			c.t.Error(err)
		}
	}
}
