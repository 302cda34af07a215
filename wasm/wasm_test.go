package wasm_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plykit/ply"
	"github.com/plykit/ply/wasm"
)

// open opens the module at path with cfg's grants and limits (a deadline
// of 1s unless given), a publisher that records, and the tests' shared
// compilation cache.
func open(t *testing.T, path string, cfg wasm.Config) *wasm.Plugin {
	t.Helper()
	cfg.Path = path
	if cfg.Limits.Deadline == 0 { // the default, 100ms, is short for a loaded test machine
		cfg.Limits.Deadline = time.Second
	}
	if cfg.Publish == nil {
		cfg.Publish = publish
	}
	if cfg.CacheDir == "" {
		cfg.CacheDir = filepath.Join(os.TempDir(), "ply-wasm-test-cache")
	}
	p, err := wasm.Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	return p
}

// served is what the handler saw of a call.
type served struct {
	mu    sync.Mutex
	calls int
	seen  string // the X-Seen header the guest set
}

// start runs a host with plugins and one HTTP handler, and returns its
// chain; the host stops when the test ends.
func start(t *testing.T, s *served, plugins []ply.Plugin, opts ...ply.Option) *ply.Chain {
	t.Helper()
	_, ch := startHost(t, s, plugins, opts...)
	return ch
}

// startHost is start, returning the host too.
func startHost(t *testing.T, s *served, plugins []ply.Plugin, opts ...ply.Option) (*ply.Host, *ply.Chain) {
	t.Helper()
	h, err := ply.New(plugins, append(opts, site(s))...)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Stop(context.WithoutCancel(t.Context())); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	ch, err := h.Chain("site", "GET /x")
	if err != nil {
		t.Fatal(err)
	}
	return h, ch
}

// site is the test module: an HTTP and an RPC handler that record in s.
func site(s *served) ply.Option {
	handler := func(_ context.Context, c *ply.Call) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.calls++
		if r, ok := c.Request().(*http.Request); ok {
			s.seen = r.Header.Get("X-Seen")
		}
		return nil
	}
	return ply.WithModules(ply.Module{Name: "site", Handlers: []ply.Handler{
		{Kind: ply.KindHTTP, Name: "GET /x", Func: handler},
		{Kind: ply.KindRPC, Name: "echo", Func: handler},
	}})
}

func get(t *testing.T, ch *ply.Chain, mode string) (*httptest.ResponseRecorder, error) {
	t.Helper()
	return post(t, ch, mode, "")
}

func post(t *testing.T, ch *ply.Chain, mode, body string) (*httptest.ResponseRecorder, error) {
	t.Helper()
	method := http.MethodGet
	if body != "" {
		method = http.MethodPost
	}
	r := httptest.NewRequestWithContext(t.Context(), method, "/x?q=1", strings.NewReader(body))
	if mode != "" {
		r.Header.Set("X-Mode", mode)
	}
	w := httptest.NewRecorder()
	_, err := ch.Serve(t.Context(), r, w)
	return w, err
}

// hostileGrants grant the hostile guest every capability it imports; its
// http allowlist names no server the tests run.
var hostileGrants = wasm.Grants{Log: true, KV: true, Clock: true, Random: true, HTTP: []string{"example.invalid"}, Events: []string{"hostile.>"}}

// published records what guests publish, for every test's plugins.
var published = struct {
	sync.Mutex
	subjects []string
}{}

func publish(_ context.Context, subject string, data []byte) error {
	published.Lock()
	defer published.Unlock()
	published.subjects = append(published.subjects, subject+" "+string(data))
	return nil
}

func TestLayer(t *testing.T) {
	p := open(t, hostileWasm, wasm.Config{Grants: hostileGrants})
	var s served
	ch := start(t, &s, []ply.Plugin{p}, ply.WithLogger(discard()))
	for _, tt := range []struct {
		name      string
		mode      string
		wantCalls int // handler calls, cumulative
		wantSeen  string
		wantCode  int
		wantErr   error
	}{
		{name: "continue with a header", mode: "ok", wantCalls: 1, wantSeen: "GET /x?q=1", wantCode: 200},
		{name: "respond short-circuits", mode: "respond", wantCalls: 1, wantCode: 418},
		{name: "fail is the plugin's error", mode: "fail", wantCalls: 1, wantErr: wasm.ErrGuest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w, err := get(t, ch, tt.mode)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				pe, ok := errors.AsType[*ply.PluginError](err)
				if !ok || pe.Plugin != "hostile" || pe.Op != ply.OpLayer {
					t.Errorf("err = %#v, want a *ply.PluginError naming hostile's layer", err)
				}
				return
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.calls != tt.wantCalls || (tt.wantSeen != "" && s.seen != tt.wantSeen) || w.Code != tt.wantCode {
				t.Errorf("calls %d seen %q code %d, want %d %q %d", s.calls, s.seen, w.Code, tt.wantCalls, tt.wantSeen, tt.wantCode)
			}
			if tt.mode == "respond" && (w.Body.String() != "teapot" || w.Header().Get("X-Hostile") != "responded") {
				t.Errorf("response %q with headers %v", w.Body, w.Header())
			}
		})
	}
}

// TestBody: a plugin that asks for bodies gets them, up to its maxBody.
func TestBody(t *testing.T) {
	p := open(t, hostileWasm, wasm.Config{Grants: hostileGrants, Limits: wasm.Limits{MaxBody: 8}})
	var s served
	ch := start(t, &s, []ply.Plugin{p}, ply.WithLogger(discard()))
	w, err := post(t, ch, "echo", "ping")
	if err != nil || w.Code != 200 || w.Body.String() != "ping" {
		t.Errorf("echo: %d %q %v, want 200 ping", w.Code, w.Body, err)
	}
	if _, err := post(t, ch, "echo", "a body over eight bytes"); err == nil || !strings.Contains(err.Error(), "maxBody") {
		t.Errorf("a body over maxBody: err = %v, want one naming maxBody", err)
	}
}

func TestKVIsThePluginsOwn(t *testing.T) {
	kv := &mapKV{m: map[string][]byte{}}
	p := open(t, hostileWasm, wasm.Config{Grants: hostileGrants, KV: kv, Limits: wasm.Limits{Pool: 2}})
	var s served
	ch := start(t, &s, []ply.Plugin{p}, ply.WithLogger(discard()))
	for i, want := range []string{"1", "2", "3"} {
		w, err := get(t, ch, "kv")
		if err != nil || w.Header().Get("X-Count") != want {
			t.Fatalf("call %d: X-Count %q, err %v; want %s", i, w.Header().Get("X-Count"), err, want)
		}
	}
	kv.mu.Lock()
	defer kv.mu.Unlock()
	for k := range kv.m {
		if !strings.HasPrefix(k, "hostile/") {
			t.Errorf("key %q outside the plugin's own", k)
		}
	}
	if got := string(kv.m["hostile/count"]); got != "3" {
		t.Errorf("hostile/count = %q, want 3", got)
	}
}

type mapKV struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (k *mapKV) Get(_ context.Context, key string) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[key]
	if !ok {
		return nil, wasm.ErrNotFound
	}
	return v, nil
}

func (k *mapKV) Put(_ context.Context, key string, v []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[key] = v
	return nil
}

func (k *mapKV) Delete(_ context.Context, key string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, key)
	return nil
}

// TestHostile runs guests that misbehave beside calls that behave, on one
// plugin: every bad call fails attributed to the plugin, and the host
// serves the good ones throughout.
func TestHostile(t *testing.T) {
	// Long enough that a good call beside the bad one, descheduled on a
	// loaded machine, does not run out of time itself.
	const deadline = 250 * time.Millisecond
	for _, tt := range []struct {
		mode    string
		limits  wasm.Limits
		wantErr error
	}{
		{mode: "loop", limits: wasm.Limits{Deadline: deadline, Pool: 3, Warm: 3}, wantErr: wasm.ErrDeadline},
		// The bomb's deadline is long enough for it to fill its 12.5 MiB.
		{mode: "bomb", limits: wasm.Limits{Deadline: 5 * time.Second, MemoryPages: 200, Pool: 3}, wantErr: wasm.ErrTrap},
		{mode: "trap", limits: wasm.Limits{Deadline: time.Second, Pool: 3}, wantErr: wasm.ErrTrap},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			p := open(t, hostileWasm, wasm.Config{Grants: hostileGrants, Limits: tt.limits})
			var s served
			ch := start(t, &s, []ply.Plugin{p}, ply.WithLogger(discard()))
			stop := make(chan struct{})
			var good sync.WaitGroup
			good.Go(func() { // other requests go on while the guest misbehaves
				for {
					if _, err := get(t, ch, "ok"); err != nil {
						t.Errorf("a good call failed beside %s: %v", tt.mode, err)
						return
					}
					select {
					case <-stop:
						return
					default:
					}
				}
			})
			began := time.Now()
			_, err := get(t, ch, tt.mode)
			took := time.Since(began)
			close(stop)
			good.Wait()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if pe, ok := errors.AsType[*ply.PluginError](err); !ok || pe.Plugin != "hostile" {
				t.Errorf("err = %v, want it attributed to hostile", err)
			}
			if tt.mode == "bomb" && !strings.Contains(err.Error(), "out of memory") {
				t.Errorf("err = %v, want the guest's out of memory", err)
			}
			if tt.mode == "loop" && took > deadline+50*time.Millisecond {
				// Beside the good calls, on a loaded machine, the scheduler
				// may be late. Time the loop alone, beside a plain timer of
				// the same deadline: how late that one fires is the
				// machine's lateness, not ply's, and is allowed for.
				var stopped []string
				inTime := false
				for range 3 {
					late := make(chan time.Duration, 1)
					began := time.Now()
					time.AfterFunc(deadline, func() { late <- time.Since(began) - deadline })
					if _, err := get(t, ch, tt.mode); !errors.Is(err, wasm.ErrDeadline) {
						t.Fatalf("err = %v, want %v", err, wasm.ErrDeadline)
					}
					took = time.Since(began)
					lateness := <-late
					stopped = append(stopped, fmt.Sprintf("%v (a plain timer was %v late)", took, lateness))
					if took <= deadline+50*time.Millisecond+lateness {
						inTime = true
						break
					}
				}
				if !inTime {
					t.Errorf("the loop was stopped after %v, want within %v plus the machine's lateness", stopped, deadline+50*time.Millisecond)
				}
			}
			if _, err := get(t, ch, "ok"); err != nil {
				t.Errorf("a call after the %s: %v", tt.mode, err)
			}
		})
	}
}

// TestTrapsDegradeHealth: a guest that traps on every call marks the
// plugin degraded, while the pool keeps serving good calls; a good call
// makes it healthy again.
func TestTrapsDegradeHealth(t *testing.T) {
	p := open(t, hostileWasm, wasm.Config{Grants: hostileGrants, Limits: wasm.Limits{Pool: 2, Traps: 3}})
	var s served
	ch := start(t, &s, []ply.Plugin{p}, ply.WithLogger(discard()))
	for i := range 3 {
		if err := p.Health(t.Context()); err != nil {
			t.Fatalf("after %d traps: health %v, want ok", i, err)
		}
		if _, err := get(t, ch, "trap"); !errors.Is(err, wasm.ErrTrap) {
			t.Fatalf("trap %d: err = %v", i, err)
		}
	}
	if err := p.Health(t.Context()); !errors.Is(err, ply.ErrDegraded) {
		t.Fatalf("after 3 traps: health = %v, want degraded", err)
	}
	for i := range 5 { // more calls than the pool holds: no trapped instance came back
		if _, err := get(t, ch, "ok"); err != nil {
			t.Fatalf("good call %d after the traps: %v", i, err)
		}
	}
	if err := p.Health(t.Context()); err != nil {
		t.Errorf("after a good call: health = %v, want ok", err)
	}
}

func TestFailOpen(t *testing.T) {
	p := open(t, hostileWasm, wasm.Config{Grants: hostileGrants, Limits: wasm.Limits{FailOpen: true}})
	var s served
	ch := start(t, &s, []ply.Plugin{p}, ply.WithLogger(discard()))
	if _, err := get(t, ch, "trap"); err != nil {
		t.Fatalf("fail open: err = %v, want the chain to go on", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.calls != 1 {
		t.Errorf("handler calls = %d, want 1", s.calls)
	}
}

func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, tt := range []struct {
		name    string
		path    string
		grants  wasm.Grants
		wantErr error
		wantCap string
	}{
		{name: "garbage bytes", path: write("garbage.wasm", []byte("this is not wasm at all\x00\x01")), wantErr: wasm.ErrModule},
		{name: "empty file", path: write("empty.wasm", nil), wantErr: wasm.ErrModule},
		{name: "wasm without the ABI", path: write("bare.wasm", []byte("\x00asm\x01\x00\x00\x00")), wantErr: wasm.ErrModule},
		{name: "missing file", path: filepath.Join(dir, "nope.wasm"), wantErr: os.ErrNotExist},
		{name: "ungranted kv", path: hostileWasm, grants: except(func(g *wasm.Grants) { g.KV = false }), wantCap: "kv"},
		{name: "ungranted log", path: hostileWasm, grants: except(func(g *wasm.Grants) { g.Log = false }), wantCap: "log"},
		{name: "ungranted clock", path: hostileWasm, grants: except(func(g *wasm.Grants) { g.Clock = false }), wantCap: "clock"},
		{name: "ungranted random", path: hostileWasm, grants: except(func(g *wasm.Grants) { g.Random = false }), wantCap: "random"},
		{name: "ungranted http", path: hostileWasm, grants: except(func(g *wasm.Grants) { g.HTTP = nil }), wantCap: "http"},
		{name: "ungranted events", path: hostileWasm, grants: except(func(g *wasm.Grants) { g.Events = nil }), wantCap: "events"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := wasm.Open(t.Context(), wasm.Config{Path: tt.path, Grants: tt.grants, Publish: publish, CacheDir: filepath.Join(os.TempDir(), "ply-wasm-test-cache")})
			if tt.wantCap != "" {
				ce, ok := errors.AsType[*wasm.CapabilityError](err)
				if !ok || ce.Capability != tt.wantCap {
					t.Fatalf("err = %v, want a *CapabilityError for %s", err, tt.wantCap)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			t.Log(err)
		})
	}
}

// TestHooks: the guest's start and stop hooks run with the host's, and a
// failing one fails the host's step, attributed to the plugin.
func TestHooks(t *testing.T) {
	kv := &mapKV{m: map[string][]byte{}}
	p := open(t, hostileWasm, wasm.Config{Grants: hostileGrants, KV: kv})
	h, err := ply.New([]ply.Plugin{p}, ply.WithLogger(discard()))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if v, _ := kv.Get(t.Context(), "hostile/started"); string(v) != "yes" {
		t.Errorf("after start: hostile/started = %q, want yes", v)
	}
	if err := h.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if v, _ := kv.Get(t.Context(), "hostile/stopped"); string(v) != "yes" {
		t.Errorf("after stop: hostile/stopped = %q, want yes", v)
	}

	failing := open(t, hostileWasm, wasm.Config{Grants: hostileGrants, KV: kv})
	h, err = ply.New([]ply.Plugin{failing}, ply.WithLogger(discard()),
		ply.WithOptions("hostile", ply.RawOptions{File: "ply.yaml", Data: []byte("mode: fail\n")}))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	err = h.Stop(t.Context())
	if pe, ok := errors.AsType[*ply.PluginError](err); !ok || pe.Op != ply.OpStop || pe.Plugin != "hostile" || !errors.Is(err, wasm.ErrGuest) {
		t.Errorf("stop = %v, want the guest's failure as hostile's stop error", err)
	}
}

// except returns hostileGrants changed by drop.
func except(drop func(g *wasm.Grants)) wasm.Grants {
	g := hostileGrants
	drop(&g)
	return g
}

// TestCapabilities: the clock, randomness and events reach the guest; http
// reaches only the hosts on the allowlist.
func TestCapabilities(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte("from upstream"))
	}))
	defer upstream.Close()
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("a host off the allowlist was reached")
	}))
	defer other.Close()
	grants := hostileGrants
	grants.HTTP = []string{strings.TrimPrefix(upstream.URL, "http://")}
	p := open(t, hostileWasm, wasm.Config{Grants: grants})
	var s served
	ch := start(t, &s, []ply.Plugin{p}, ply.WithLogger(discard()))

	call := func(mode string, header ...string) (*httptest.ResponseRecorder, error) {
		r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/x", nil)
		r.Header.Set("X-Mode", mode)
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		_, err := ch.Serve(t.Context(), r, w)
		return w, err
	}
	w, err := call("fetch", "X-Target", upstream.URL+"/a")
	if err != nil || w.Code != http.StatusAccepted || w.Body.String() != "from upstream" {
		t.Errorf("fetch an allowed host: %d %q %v", w.Code, w.Body, err)
	}
	if _, err := call("fetch", "X-Target", other.URL+"/a"); !errors.Is(err, wasm.ErrGuest) || !strings.Contains(err.Error(), "not in the plugin's grants.http") {
		t.Errorf("fetch a host off the allowlist: err = %v", err)
	}
	before := time.Now().UnixNano()
	w, err = call("caps", "X-Subject", "hostile.greeting")
	if err != nil {
		t.Fatal(err)
	}
	if now, _ := strconv.ParseInt(w.Header().Get("X-Now"), 10, 64); now < before || w.Header().Get("X-Random") != "8" {
		t.Errorf("clock %s (want >= %d), random %s", w.Header().Get("X-Now"), before, w.Header().Get("X-Random"))
	}
	if _, err := call("caps", "X-Subject", "other.greeting"); !errors.Is(err, wasm.ErrGuest) {
		t.Errorf("publish to a subject not granted: err = %v, want the guest's failure", err)
	}
	published.Lock()
	defer published.Unlock()
	if !slices.Contains(published.subjects, `hostile.greeting "hello"`) || slices.ContainsFunc(published.subjects, func(s string) bool { return strings.HasPrefix(s, "other.") }) {
		t.Errorf("published %q, want hostile.greeting only", published.subjects)
	}
}
