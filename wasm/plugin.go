package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"

	"github.com/tetratelabs/wazero"

	"github.com/plykit/ply"
	"github.com/plykit/ply/wasm/abi"
)

// Runtime is what [Plugin.Runtime] returns: how ply.yaml names the runtime
// of a wasm plugin.
const Runtime = "wasm"

// Plugin is a WebAssembly module run as a ply plugin. Its Info, options
// schema and layer come from the module's manifest; the host cannot tell
// it from a native plugin but by [Plugin.Runtime]. Make one with [Open].
//
// Provision compiles the module (from the on-disk cache when it saw the
// same bytes before) and makes the first instance; calls take instances
// from a pool of at most Limits.Pool; Cleanup closes them all. A Plugin can
// be provisioned again after Cleanup, as in a second host.
type Plugin struct {
	cfg      Config
	lim      Limits
	hash     [32]byte
	manifest *abi.Manifest
	info     ply.Info
	kinds    map[ply.Kind]bool // nil: every kind
	opts     reflect.Value     // pointer to the options struct; invalid without options

	// Set by Provision, released by Cleanup.
	hasStart, hasStop bool // the module exports ply_start, ply_stop

	host  *hostFuncs
	eng   *engine
	pool  *pool
	traps atomic.Int64 // failed calls in a row
	log   *slog.Logger
}

var (
	_ ply.Configurable  = (*Plugin)(nil)
	_ ply.Provisioner   = (*Plugin)(nil)
	_ ply.Wrapper       = (*Plugin)(nil)
	_ ply.HealthChecker = (*Plugin)(nil)
	_ ply.Cleaner       = (*Plugin)(nil)
	_ ply.Starter       = (*Plugin)(nil)
	_ ply.Stopper       = (*Plugin)(nil)
)

// Open reads, compiles and checks the module at cfg.Path: it must speak
// ABI [abi.Version] and import only what cfg.Grants grants. It reads the
// manifest from a first instance, then releases the runtime: nothing runs
// until Provision.
//
// Errors match [ErrModule] (not a ply module, or garbage), [ErrABI], or
// are a [*CapabilityError]; an unreadable file is the [os.Open] error.
func Open(ctx context.Context, cfg Config) (*Plugin, error) {
	data, hash, err := readModule(cfg.Path)
	if err != nil {
		return nil, err
	}
	lim := cfg.Limits.withDefaults()
	host := &hostFuncs{}
	e, err := compile(ctx, &cfg, lim, data, host)
	if err != nil {
		return nil, err
	}
	p, err := newPlugin(ctx, cfg, lim, hash, e)
	if err != nil {
		return nil, errors.Join(err, e.close(ctx))
	}
	// Provision uses this engine; a plugin never provisioned leaves it to
	// the garbage collector, which releases wazero's compiled code.
	p.eng, p.host = e, host
	return p, nil
}

// newPlugin reads the manifest from a first instance of e's module, which
// it closes, and makes the plugin it describes.
func newPlugin(ctx context.Context, cfg Config, lim Limits, hash [32]byte, e *engine) (*Plugin, error) {
	mod, err := e.rt.InstantiateModule(ctx, e.compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions(startFunctions(e.compiled)...))
	if err != nil {
		return nil, fmt.Errorf("%s: instantiate: %w: %w", cfg.Path, err, ErrModule)
	}
	defer func() { _ = mod.Close(ctx) }() // only read from
	m, err := readManifest(ctx, cfg.Path, mod)
	if err != nil {
		return nil, err
	}
	p := &Plugin{cfg: cfg, lim: lim, hash: hash, manifest: m}
	exported := e.compiled.ExportedFunctions()
	_, p.hasStart = exported["ply_start"]
	_, p.hasStop = exported["ply_stop"]
	p.info = ply.Info{Name: m.Name, Version: m.Version, Priority: int(m.Priority), Description: m.Description,
		Before: m.Before, After: m.After}
	for _, d := range m.Requires {
		p.info.Requires = append(p.info.Requires, ply.Dependency(d))
	}
	if len(m.Kinds) > 0 {
		p.kinds = map[ply.Kind]bool{}
		for _, k := range m.Kinds {
			p.info.Kinds = append(p.info.Kinds, ply.Kind(k))
			p.kinds[ply.Kind(k)] = true
		}
	}
	if len(m.Options) > 0 {
		p.opts = reflect.New(optionsType(m.Options))
	}
	p.info.Requires = append(p.info.Requires, cfg.Requires...)
	if len(cfg.Grants.Events) > 0 && cfg.Publish == nil && cfg.Setup == nil {
		return nil, fmt.Errorf("%s: %w", cfg.Path, ErrNoPublisher)
	}
	return p, nil
}

// Info returns the manifest's name, version, priority, dependencies,
// constraints and kinds.
func (p *Plugin) Info() ply.Info { return p.info }

// Runtime returns "wasm".
func (p *Plugin) Runtime() string { return Runtime }

// Path returns the module's file.
func (p *Plugin) Path() string { return p.cfg.Path }

// Stale reports whether the module's file no longer holds the bytes the
// plugin was opened from: a reload should open it again.
func (p *Plugin) Stale() bool {
	_, hash, err := readModule(p.cfg.Path)
	return err != nil || hash != p.hash
}

// Options returns a pointer to the plugin's options: a struct made from
// the manifest's schema, so that the host decodes and checks them as any
// plugin's. Nil when the module declares none.
func (p *Plugin) Options() any {
	if !p.opts.IsValid() {
		return nil
	}
	return p.opts.Interface()
}

// Provision compiles the module (a cache hit when it was compiled before),
// and makes the first instance with the plugin's options, so that a bad
// option or a failing Init is reported here.
func (p *Plugin) Provision(ctx context.Context, s *ply.Setup) error {
	if p.eng == nil { // cleaned up before: compile again, from the cache
		data, hash, err := readModule(p.cfg.Path)
		if err != nil {
			return err
		}
		if hash != p.hash {
			return fmt.Errorf("%s changed since it was loaded; reload the host to run the new module", p.cfg.Path)
		}
		host := &hostFuncs{}
		e, err := compile(ctx, &p.cfg, p.lim, data, host)
		if err != nil {
			return err
		}
		p.eng, p.host = e, host
	}
	p.log = s.Logger()
	cfg := p.cfg // Setup fills a copy: a second Provision starts from the same Config
	if cfg.Setup != nil {
		if err := cfg.Setup(ctx, s, &cfg); err != nil {
			return err
		}
	}
	if len(cfg.Grants.Events) > 0 && cfg.Publish == nil {
		return ErrNoPublisher
	}
	*p.host = hostFuncs{plugin: p.info.Name, deadline: p.lim.Deadline, logger: p.log, kv: cfg.KV, client: cfg.HTTPClient,
		hosts: cfg.Grants.HTTP, subject: cfg.Grants.Events, publish: cfg.Publish}
	if p.host.kv == nil {
		p.host.kv = &memKV{}
	}
	if p.host.client == nil {
		p.host.client = p.host.newClient()
	}
	var opts []byte
	if p.opts.IsValid() {
		opts = encodeOptions(p.manifest.Options, p.opts)
	} else {
		opts = []byte{0}
	}
	p.pool = newPool(p.eng, p.cfg.Path, opts, p.lim)
	p.pool.forget = p.host.kept.Delete
	p.traps.Store(0)
	warm := make([]*instance, 0, p.lim.Warm)
	defer func() {
		for _, in := range warm {
			p.pool.put(in)
		}
	}()
	for range p.lim.Warm {
		in, err := p.pool.get(ctx)
		if err != nil {
			return err
		}
		warm = append(warm, in)
	}
	return nil
}

// Start calls the guest's start hook (guest.Plugin.Start), in one of the
// pool's instances, within ctx: what it sets in the guest's memory stays
// in that instance, so the hook is for effects through capabilities (kv,
// http, log), not for state the layer reads.
func (p *Plugin) Start(ctx context.Context) error {
	if !p.hasStart {
		return nil
	}
	return p.hook(ctx, "ply_start")
}

// Stop calls the guest's stop hook (guest.Plugin.Stop), as Start does.
func (p *Plugin) Stop(ctx context.Context) error {
	if !p.hasStop {
		return nil
	}
	return p.hook(ctx, "ply_stop")
}

// hook runs export (() -> packed error) in a pooled instance. The call is
// bounded by ctx (the host's hook timeout): past it, wazero stops the
// guest and the instance is discarded.
func (p *Plugin) hook(ctx context.Context, export string) error {
	in, err := p.pool.get(ctx)
	if err != nil {
		return err
	}
	res, err := in.mod.ExportedFunction(export).Call(ctx)
	if err != nil {
		msg := err.Error() + outputSuffix(in.out.take())
		p.pool.discard(in)
		return &CallError{Kind: ErrTrap, Message: export + ": " + msg}
	}
	defer p.pool.put(in)
	if res[0] != 0 {
		msg, _ := readPacked(in.mem, int64(res[0])) //nolint:gosec // the ABI packs a pointer and a length
		return &CallError{Kind: ErrGuest, Message: string(msg)}
	}
	return nil
}

// Wrap gives every handler of the plugin's kinds its layer.
func (p *Plugin) Wrap(_ context.Context, t ply.Target) (ply.Wrap, error) {
	if p.kinds != nil && !p.kinds[t.Handler.Kind] {
		return ply.Wrap{}, nil
	}
	return ply.Wrap{Layer: p.layer}, nil
}

// Health reports the plugin degraded (an error matching ply.ErrDegraded)
// once Limits.Traps calls in a row trapped or ran out of time, until a
// call succeeds.
func (p *Plugin) Health(context.Context) error {
	if n := p.traps.Load(); n >= int64(p.lim.Traps) {
		return fmt.Errorf("%d calls in a row trapped or ran out of time: %w", n, ply.ErrDegraded)
	}
	return nil
}

// Cleanup closes every instance and the runtime.
func (p *Plugin) Cleanup(ctx context.Context) error {
	if p.eng == nil {
		return nil
	}
	if p.pool != nil {
		p.pool.close(ctx)
	}
	if p.cfg.HTTPClient == nil && p.host != nil && p.host.client != nil {
		p.host.client.CloseIdleConnections() // ours: no keep-alive outlives the plugin
	}
	err := p.eng.close(ctx)
	p.eng, p.pool = nil, nil
	return err
}

// layer is the plugin's layer: one call into the guest, then next unless
// the guest responded or failed.
func (p *Plugin) layer(ctx context.Context, c *ply.Call, next ply.Next) error {
	pl := p.pool
	if pl == nil {
		return p.fail(errors.New("the plugin is not provisioned"))
	}
	in, err := pl.get(ctx)
	if err != nil {
		return p.fail(err)
	}
	r, _ := c.Request().(*http.Request)
	if err := p.encode(in, c); err != nil {
		pl.put(in)
		return p.fail(err)
	}
	in.timer.Reset(p.lim.Deadline)
	err = in.layer.CallWithStack(context.Background(), in.stack[:]) //nolint:contextcheck // the deadline closes the module; see instance.timer
	stopped := !in.timer.Stop()
	if err != nil || stopped { // stopped: the timer closed the module, perhaps as the call returned
		msg := "closed at its deadline"
		if err != nil {
			msg = err.Error() + outputSuffix(in.out.take())
		}
		pl.discard(in)
		return p.trapped(ctx, c, next, errors.New(msg), stopped)
	}
	if len(in.out.buf) > 0 {
		in.flush(ctx, p.log)
	}
	res, ok := readPacked(in.mem, int64(in.stack[0])) //nolint:gosec // the ABI packs a pointer and a length
	if !ok {
		pl.discard(in)
		return p.trapped(ctx, c, next, errors.New("the result lies outside the guest's memory"), false)
	}
	action, err := p.apply(c, r, res)
	var failure string
	if err == nil && action == abi.Fail {
		failure = p.message(res) // a copy: res is the instance's memory
	}
	pl.put(in) // before next: the inner chain never holds this instance
	if err != nil {
		return p.trapped(ctx, c, next, err, false)
	}
	p.traps.Store(0)
	switch action {
	case abi.Respond:
		return nil
	case abi.Fail:
		return p.fail(&CallError{Kind: ErrGuest, Message: failure})
	}
	return next.Run(ctx)
}

// message returns the guest's failure message from a result.
func (p *Plugin) message(res []byte) string {
	rd := abi.NewReader(res)
	rd.Byte()
	for range 2 {
		n := rd.Count(3)
		for range n {
			rd.Byte()
			rd.Bytes()
			rd.Bytes()
		}
	}
	rd.Uvarint()
	rd.Bytes()
	return rd.String()
}

// trapped handles a failed guest call: counts it for health, and fails
// the call (closed) or continues past the plugin (open).
func (p *Plugin) trapped(ctx context.Context, c *ply.Call, next ply.Next, err error, timedOut bool) error {
	p.traps.Add(1)
	ce := &CallError{Kind: ErrTrap, Message: err.Error()}
	if timedOut {
		ce = &CallError{Kind: ErrDeadline, Message: fmt.Sprintf("stopped after %v", p.lim.Deadline)}
	}
	if p.lim.FailOpen {
		if p.log != nil {
			p.log.WarnContext(ctx, "wasm plugin failed; continuing (failOpen)",
				"handler", c.Handler().Name, "err", ce)
		}
		return next.Run(ctx)
	}
	return p.fail(ce)
}

func (p *Plugin) fail(err error) error {
	return &ply.PluginError{Op: ply.OpLayer, Plugin: p.info.Name, Version: p.info.Version, Err: err}
}

// encode writes the call's request into the instance's input buffer and
// sets its stack to the message's length.
func (p *Plugin) encode(in *instance, c *ply.Call) error {
	w := abi.NewWriter(in.scratch)
	h := c.Handler()
	w.String(string(h.Kind))
	w.String(c.Module().Name)
	w.String(h.Name)
	var body []byte
	switch req := c.Request().(type) {
	case *http.Request:
		w.String(req.Method)
		if q := req.URL.RawQuery; q != "" {
			w.Uvarint(uint64(len(req.URL.Path) + 1 + len(q)))
			w.Raw(req.URL.Path)
			w.Byte('?')
			w.Raw(q)
		} else {
			w.String(req.URL.Path)
		}
		n := 0
		for _, vs := range req.Header {
			n += len(vs)
		}
		w.Uvarint(uint64(n))
		for k, vs := range req.Header {
			for _, v := range vs {
				w.String(k)
				w.String(v)
			}
		}
		if p.manifest.Body && req.Body != nil && req.Body != http.NoBody {
			b, err := io.ReadAll(io.LimitReader(req.Body, int64(p.lim.MaxBody)+1))
			if err != nil {
				return fmt.Errorf("read the request body: %w", err)
			}
			if len(b) > p.lim.MaxBody {
				return fmt.Errorf("the request body is over the plugin's limits.maxBody of %d bytes", p.lim.MaxBody)
			}
			req.Body = io.NopCloser(bytes.NewReader(b))
			body = b
		}
	case []byte:
		w.String("")
		w.String("")
		w.Uvarint(0)
		body = req
	case string:
		w.String("")
		w.String("")
		w.Uvarint(0)
		w.String(req)
		return p.copyIn(in, w.Bytes())
	default:
		w.String("")
		w.String("")
		w.Uvarint(0)
	}
	w.BytesField(body)
	return p.copyIn(in, w.Bytes())
}

// copyIn copies msg into the guest's input buffer, growing it if needed.
func (p *Plugin) copyIn(in *instance, msg []byte) error {
	in.scratch = msg[:0]
	if len(msg) > int(in.bufCap) {
		if err := in.grow(len(msg)); err != nil {
			return err
		}
	}
	in.mem.Write(in.buf, msg)
	in.stack[0] = uint64(len(msg))
	return nil
}

// apply reads a layer's result and applies it: header edits, and for a
// response its status, headers and body. It returns the action.
func (p *Plugin) apply(c *ply.Call, r *http.Request, res []byte) (byte, error) {
	var reqHeader http.Header
	if r != nil {
		reqHeader = r.Header
	}
	w, _ := c.Response().(http.ResponseWriter)
	action, status, body, err := applyResult(res, reqHeader, w)
	if err != nil || action != abi.Respond {
		return action, err
	}
	switch out := c.Response().(type) {
	case http.ResponseWriter:
		out.WriteHeader(int(status)) //nolint:gosec // checked by applyResult: 100-999
		_, _ = out.Write(body)       // a client gone away is the server's to see
	case io.Writer:
		_, _ = out.Write(body) // an in-memory writer of the caller's
	default:
		c.SetResponse(bytes.Clone(body))
	}
	return action, nil
}

// applyResult decodes a layer's result (the host-side ABI decoder):
// applies its request header edits to reqHeader and its response header
// edits to w's headers (either may be nil: those edits are skipped), and
// returns the action, status and body (aliasing res). A malformed result is
// an error, and applies nothing of what follows the fault.
func applyResult(res []byte, reqHeader http.Header, w http.ResponseWriter) (action byte, status uint64, body []byte, err error) {
	rd := abi.NewReader(res)
	action = rd.Byte()
	if action > abi.Fail && rd.Err() == nil {
		return 0, 0, nil, fmt.Errorf("bad result message: unknown action %d", action)
	}
	if n := rd.Count(3); n > 0 && reqHeader != nil {
		for range n {
			edit(reqHeader, rd.Byte(), rd.Bytes(), rd.Bytes())
		}
	} else {
		skipOps(&rd, n)
	}
	if n := rd.Count(3); n > 0 && w != nil {
		h := w.Header()
		for range n {
			edit(h, rd.Byte(), rd.Bytes(), rd.Bytes())
		}
	} else {
		skipOps(&rd, n)
	}
	status = rd.Uvarint()
	body = rd.Bytes()
	rd.Bytes() // the message, read by message on Fail
	if err := rd.Err(); err != nil {
		return 0, 0, nil, fmt.Errorf("bad result message: %w", err)
	}
	if action == abi.Respond && w != nil && (status < 100 || status > 999) {
		return 0, 0, nil, fmt.Errorf("the guest responded with HTTP status %d", status)
	}
	return action, status, body, nil
}

func skipOps(rd *abi.Reader, n int) {
	for range n {
		rd.Byte()
		rd.Bytes()
		rd.Bytes()
	}
}

// edit applies one header operation. An invalid name or value (not an
// HTTP token; a CR, LF or NUL in the value) is left out.
func edit(h http.Header, op byte, name, value []byte) {
	if !validHeader(name, value) {
		return
	}
	switch op {
	case abi.HeaderSet:
		h.Set(string(name), string(value))
	case abi.HeaderAdd:
		h.Add(string(name), string(value))
	case abi.HeaderDel:
		h.Del(string(name))
	}
}

func validHeader(name, value []byte) bool {
	if len(name) == 0 {
		return false
	}
	for _, c := range name {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return !bytes.ContainsAny(value, "\r\n\x00")
}

// Reopen opens the plugin's module again, with the same configuration, as
// [Open]: for a reload after the file changed ([Plugin.Stale]), or to
// rebuild the plugin.
func (p *Plugin) Reopen(ctx context.Context) (*Plugin, error) { return Open(ctx, p.cfg) }
