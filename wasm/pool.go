package wasm

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// bufSize is the size of the input buffer each instance starts with; a
// larger request grows it.
const bufSize = 16 << 10

// instance is one instantiated module with its exports looked up once.
type instance struct {
	mod     api.Module
	mem     api.Memory
	layer   api.Function
	buffer  api.Function
	buf     uint32 // the guest's input buffer
	bufCap  uint32
	scratch []byte    // the request, encoded on the host before it is copied in
	stack   [1]uint64 // CallWithStack's parameters and results
	// timer closes the module when a call runs past its deadline: the
	// guest's code, compiled with termination checks, then stops at its
	// next loop back-edge or function entry, and the instance is
	// discarded. One timer per instance, reset per call, allocates nothing
	// per call, and the call's context stays one without Done, which
	// wazero watches at less cost.
	timer *time.Timer
	out   *output
}

func (in *instance) close(ctx context.Context) {
	in.timer.Stop()
	_ = in.mod.Close(ctx) // closing a module releases memory; its error says nothing actionable
}

// pool holds a plugin's instances: at most size at once; idle ones wait
// in idle, and tokens counts the live ones.
type pool struct {
	e      *engine
	path   string
	opts   []byte // the encoded options every instance is initialised with
	limit  time.Duration
	idle   chan *instance
	tokens chan struct{}
	forget func(key any) // drops what the host keeps for a closed instance (an http answer)
}

func newPool(e *engine, path string, opts []byte, lim Limits) *pool {
	return &pool{e: e, path: path, opts: opts, limit: lim.Deadline,
		idle: make(chan *instance, lim.Pool), tokens: make(chan struct{}, lim.Pool)}
}

// get returns an idle instance, or a new one while the pool has room, or
// waits for one within ctx.
func (p *pool) get(ctx context.Context) (*instance, error) {
	select {
	case in := <-p.idle:
		return in, nil
	default:
	}
	select {
	case in := <-p.idle:
		return in, nil
	case p.tokens <- struct{}{}:
		in, err := p.instantiate(ctx)
		if err != nil {
			<-p.tokens
			return nil, err
		}
		return in, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// put returns a healthy instance to the pool.
func (p *pool) put(in *instance) { p.idle <- in }

// discard closes an instance that trapped or timed out: it is never reused.
func (p *pool) discard(in *instance) {
	in.close(context.Background())
	if p.forget != nil {
		p.forget(in.mod)
	}
	<-p.tokens
}

// close closes the idle instances. Instances in use are closed when they
// come back... which they do not after the host stopped calling.
func (p *pool) close(ctx context.Context) {
	for {
		select {
		case in := <-p.idle:
			in.close(ctx)
			<-p.tokens
		default:
			return
		}
	}
}

// instantiate makes a new instance: runs the module's initialiser, looks
// up its exports, asks for its input buffer and gives it its options.
func (p *pool) instantiate(ctx context.Context) (*instance, error) {
	out := &output{}
	cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions(startFunctions(p.e.compiled)...).
		WithStderr(out).WithStdout(out)
	mod, err := p.e.rt.InstantiateModule(context.WithoutCancel(ctx), p.e.compiled, cfg)
	if err != nil {
		return nil, fmt.Errorf("instantiate %s: %w", p.path, err)
	}
	in := &instance{mod: mod, mem: mod.Memory(), layer: mod.ExportedFunction("ply_layer"),
		buffer: mod.ExportedFunction("ply_buffer"), out: out}
	in.timer = time.AfterFunc(time.Hour, func() {
		_ = mod.CloseWithExitCode(context.Background(), sys.ExitCodeDeadlineExceeded) // the call sees it and fails
	})
	in.timer.Stop()
	if err := in.grow(bufSize); err != nil {
		in.close(ctx)
		return nil, fmt.Errorf("%s: %w", p.path, err)
	}
	if err := p.init(in); err != nil {
		in.close(ctx)
		return nil, err
	}
	return in, nil
}

// grow asks the guest for an input buffer of at least n bytes.
func (in *instance) grow(n int) error {
	if n > 1<<30 {
		return fmt.Errorf("a request of %d bytes is too large", n)
	}
	in.stack[0] = uint64(n) //nolint:gosec // checked above
	if err := in.buffer.CallWithStack(context.Background(), in.stack[:]); err != nil {
		return fmt.Errorf("ply_buffer: %w", err)
	}
	in.buf, in.bufCap = uint32(in.stack[0]), uint32(n) //nolint:gosec // a wasm i32 pointer; n checked above
	if _, ok := in.mem.Read(in.buf, in.bufCap); !ok {
		return fmt.Errorf("ply_buffer returned a buffer outside the guest's memory: %w", ErrModule)
	}
	return nil
}

func (p *pool) init(in *instance) error {
	if len(p.opts) > int(in.bufCap) {
		if err := in.grow(len(p.opts)); err != nil {
			return err
		}
	}
	in.mem.Write(in.buf, p.opts)
	res, err := in.mod.ExportedFunction("ply_init").Call(context.Background(), uint64(len(p.opts)))
	if err != nil {
		return fmt.Errorf("%s: ply_init: %w%s", p.path, err, outputSuffix(in.out.take()))
	}
	if res[0] != 0 {
		msg, _ := readPacked(in.mem, int64(res[0])) //nolint:gosec // the ABI packs a pointer and a length
		return fmt.Errorf("%s: init: %s", p.path, msg)
	}
	return nil
}

// output keeps what an instance writes to stdout and stderr (a Go guest's
// panic message, for one), at most 4 KiB, until the host takes it: into
// the error of a call that trapped, or the log after one that did not.
type output struct {
	mu  sync.Mutex
	buf []byte
}

const maxOutput = 4 << 10

func (o *output) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if room := maxOutput - len(o.buf); room > 0 {
		o.buf = append(o.buf, b[:min(len(b), room)]...)
	}
	return len(b), nil
}

// take returns what was written since the last take.
func (o *output) take() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.buf) == 0 {
		return ""
	}
	s := string(o.buf)
	o.buf = o.buf[:0]
	return s
}

// flush logs what the instance wrote, if anything.
func (in *instance) flush(ctx context.Context, logger *slog.Logger) {
	if logger == nil {
		return
	}
	if s := in.out.take(); s != "" {
		logger.WarnContext(ctx, "wasm guest output", "output", s)
	}
}

// outputSuffix puts what a guest wrote after an error message.
func outputSuffix(s string) string {
	if s == "" {
		return ""
	}
	lines := strings.SplitN(strings.TrimSpace(s), "\n", 4) // a Go crash: its message, not every goroutine
	return "; the guest wrote: " + strings.Join(lines[:min(len(lines), 3)], " | ")
}
