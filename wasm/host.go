package wasm

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/plykit/ply"
	"github.com/plykit/ply/wasm/abi"
)

// hostFuncs are the capabilities' implementations for one plugin: the
// functions of the "ply" host module its runtime provides.
type hostFuncs struct {
	plugin   string
	deadline time.Duration // bounds each kv, http and publish call, as the guest's call is bounded
	logger   *slog.Logger
	kv       KV
	client   *http.Client
	hosts    []string
	subject  []string
	publish  func(ctx context.Context, subject string, data []byte) error
	kept     sync.Map // api.Module -> []byte: an http answer too large for the guest's buffer
}

const i32, i64 = api.ValueTypeI32, api.ValueTypeI64

// instantiate adds the "ply" module to rt with the functions of the
// granted capabilities only.
func (h *hostFuncs) instantiate(ctx context.Context, rt wazero.Runtime, g Grants) error {
	b := rt.NewHostModuleBuilder("ply")
	add := func(name string, fn api.GoModuleFunc, params, results []api.ValueType) {
		if g.granted(capabilities[name]) {
			b.NewFunctionBuilder().WithGoModuleFunction(fn, params, results).Export(name)
		}
	}
	add("log", h.log, []api.ValueType{i32, i32, i32}, nil)
	add("clock_now", h.now, nil, []api.ValueType{i64})
	add("random", h.random, []api.ValueType{i32, i32}, nil)
	add("kv_get", h.kvGet, []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i64})
	add("kv_set", h.kvSet, []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32})
	add("kv_delete", h.kvDelete, []api.ValueType{i32, i32}, []api.ValueType{i32})
	add("http_fetch", h.fetch, []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i64})
	add("publish", h.publishFn, []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32})
	_, err := b.Instantiate(ctx)
	return err
}

// read returns guest memory, or nil when the range is outside it (the
// call then does nothing and reports failure).
func read(m api.Module, ptr, n uint64) ([]byte, bool) {
	return m.Memory().Read(uint32(ptr), uint32(n)) //nolint:gosec // wasm i32 arguments arrive widened to u64
}

func (h *hostFuncs) log(ctx context.Context, m api.Module, stack []uint64) {
	msg, ok := read(m, stack[1], stack[2])
	if !ok || h.logger == nil {
		return
	}
	const maxLog = 4 << 10
	if len(msg) > maxLog {
		msg = msg[:maxLog]
	}
	h.logger.Log(callerOf(ctx), slog.Level(int32(stack[0])), string(msg)) //nolint:gosec // the guest's level, an i32
}

func (h *hostFuncs) now(_ context.Context, _ api.Module, stack []uint64) {
	stack[0] = uint64(time.Now().UnixNano())
}

func (h *hostFuncs) random(_ context.Context, m api.Module, stack []uint64) {
	if b, ok := read(m, stack[0], stack[1]); ok {
		_, _ = rand.Read(b) // crypto/rand.Read never fails
	}
}

// scoped is the plugin's key for key: every plugin has its own keys.
func (h *hostFuncs) scoped(key []byte) string { return h.plugin + "/" + string(key) }

func (h *hostFuncs) kvGet(ctx context.Context, m api.Module, stack []uint64) {
	key, ok := read(m, stack[0], stack[1])
	if !ok {
		stack[0] = neg(2)
		return
	}
	ctx, cancel := context.WithTimeout(callerOf(ctx), h.deadline)
	defer cancel()
	v, err := h.kv.Get(ctx, h.scoped(key))
	switch {
	case errors.Is(err, ErrNotFound):
		stack[0] = neg(1)
		return
	case err != nil:
		h.warn(ctx, "kv get", err)
		stack[0] = neg(2)
		return
	}
	if uint64(len(v)) <= stack[3] && !m.Memory().Write(uint32(stack[2]), v) { //nolint:gosec // wasm i32 argument
		stack[0] = neg(2)
		return
	}
	stack[0] = uint64(len(v))
}

func (h *hostFuncs) kvSet(ctx context.Context, m api.Module, stack []uint64) {
	key, ok1 := read(m, stack[0], stack[1])
	val, ok2 := read(m, stack[2], stack[3])
	if !ok1 || !ok2 {
		stack[0] = 1
		return
	}
	ctx, cancel := context.WithTimeout(callerOf(ctx), h.deadline)
	defer cancel()
	if err := h.kv.Put(ctx, h.scoped(key), bytes.Clone(val)); err != nil {
		h.warn(ctx, "kv set", err)
		stack[0] = 1
		return
	}
	stack[0] = 0
}

func (h *hostFuncs) kvDelete(ctx context.Context, m api.Module, stack []uint64) {
	key, ok := read(m, stack[0], stack[1])
	if !ok {
		stack[0] = 1
		return
	}
	ctx, cancel := context.WithTimeout(callerOf(ctx), h.deadline)
	defer cancel()
	if err := h.kv.Delete(ctx, h.scoped(key)); err != nil && !errors.Is(err, ErrNotFound) {
		h.warn(ctx, "kv delete", err)
		stack[0] = 1
		return
	}
	stack[0] = 0
}

func (h *hostFuncs) warn(ctx context.Context, op string, err error) {
	if h.logger != nil {
		h.logger.WarnContext(ctx, "wasm capability failed", "op", op, "err", err)
	}
}

func neg(n int64) uint64 { return uint64(-n) } //nolint:gosec // the ABI returns an i64's bits

// allowedHost reports whether u's host (with its port, if any) is on the
// allowlist.
func (h *hostFuncs) allowedHost(u *url.URL) bool {
	for _, a := range h.hosts {
		if strings.EqualFold(a, u.Host) || strings.EqualFold(a, u.Hostname()) && u.Port() == "" {
			return true
		}
	}
	return false
}

// fetch is ply.http_fetch(req, reqLen, buf, bufCap) -> n: the request
// message in, the response message written to buf when it fits (n is its
// length; when n > bufCap, the host keeps it for a call with reqLen 0),
// or an error message and n = -its length.
func (h *hostFuncs) fetch(ctx context.Context, m api.Module, stack []uint64) {
	buf, bufCap := uint32(stack[2]), stack[3] //nolint:gosec // wasm i32 argument
	answer := func(b []byte, failed bool) {
		if failed {
			b = b[:min(uint64(len(b)), bufCap)]
			_ = m.Memory().Write(buf, b)
			stack[0] = neg(int64(len(b)))
			return
		}
		if uint64(len(b)) > bufCap {
			h.kept.Store(m, b)
			stack[0] = uint64(len(b))
			return
		}
		_ = m.Memory().Write(buf, b)
		stack[0] = uint64(len(b))
	}
	if stack[1] == 0 {
		if b, ok := h.kept.LoadAndDelete(m); ok {
			answer(b.([]byte), false)
			return
		}
		answer([]byte("http_fetch: no request"), true)
		return
	}
	msg, ok := read(m, stack[0], stack[1])
	if !ok {
		answer([]byte("http_fetch: request outside memory"), true)
		return
	}
	res, err := h.do(ctx, msg)
	if err != nil {
		answer([]byte(err.Error()), true)
		return
	}
	answer(res, false)
}

// maxFetch bounds a response body the http capability reads: 4 MiB.
const maxFetch = 4 << 20

func (h *hostFuncs) do(ctx context.Context, msg []byte) ([]byte, error) {
	r := abi.NewReader(msg)
	method, target := r.String(), r.String()
	n := r.Count(2)
	hdr := make(http.Header, n)
	for range n {
		hdr.Add(r.String(), r.String())
	}
	body := r.Bytes()
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("http_fetch: bad request message: %w", err)
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("http_fetch: %q is not an http(s) URL", target)
	}
	if !h.allowedHost(u) {
		return nil, fmt.Errorf("http_fetch: host %q is not in the plugin's grants.http", u.Host)
	}
	ctx, cancel := context.WithTimeout(callerOf(ctx), h.deadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("http_fetch: %w", err)
	}
	req.Header = hdr
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("http_fetch: %w", err)
	}
	defer func() { _ = resp.Body.Close() }() // read to the end below
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxFetch))
	if err != nil {
		return nil, fmt.Errorf("http_fetch: %w", err)
	}
	w := abi.NewWriter(nil)
	w.Uvarint(uint64(resp.StatusCode)) //nolint:gosec // an HTTP status
	count := 0
	for _, vs := range resp.Header {
		count += len(vs)
	}
	w.Uvarint(uint64(count))
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.String(k)
			w.String(v)
		}
	}
	w.BytesField(data)
	return w.Bytes(), nil
}

// client returns an http.Client that follows redirects only to allowed
// hosts.
func (h *hostFuncs) newClient() *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 || !h.allowedHost(req.URL) {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
}

// subjectAllowed reports whether subject matches a granted one: exactly,
// or below a "prefix.>" grant.
func (h *hostFuncs) subjectAllowed(subject string) bool {
	for _, s := range h.subject {
		if s == subject || strings.HasSuffix(s, ".>") && strings.HasPrefix(subject, strings.TrimSuffix(s, ">")) {
			return true
		}
	}
	return false
}

func (h *hostFuncs) publishFn(ctx context.Context, m api.Module, stack []uint64) {
	subj, ok1 := read(m, stack[0], stack[1])
	data, ok2 := read(m, stack[2], stack[3])
	if !ok1 || !ok2 || h.publish == nil || !h.subjectAllowed(string(subj)) {
		stack[0] = 1
		return
	}
	ctx, cancel := context.WithTimeout(callerOf(ctx), h.deadline)
	defer cancel()
	if err := h.publish(ctx, string(subj), bytes.Clone(data)); err != nil {
		h.warn(ctx, "publish", err)
		stack[0] = 1
		return
	}
	stack[0] = 0
}

// callerOf returns the context of the layer call that a host function
// serves — with its values (the call's tenant, its trace) and its
// cancellation — or ctx outside a layer call (the start and stop hooks).
func callerOf(ctx context.Context) context.Context {
	if in, ok := ctx.Value(instanceKey{}).(*instance); ok && in.caller != nil {
		return in.caller
	}
	return ctx
}

// memKV is the default store of the kv capability: in memory, for the
// plugin's lifetime. On a host with tenants each tenant's calls have keys
// of their own ([ply.TenantOf]).
type memKV struct{ m sync.Map }

// tenantKey scopes key to the tenant of ctx's call: NUL never starts a
// plugin's key, so no tenant's key is another's or the host's.
func tenantKey(ctx context.Context, key string) string {
	if t, ok := ply.TenantOf(ctx); ok {
		return "\x00" + t + "\x00" + key
	}
	return key
}

func (s *memKV) Get(ctx context.Context, key string) ([]byte, error) {
	v, ok := s.m.Load(tenantKey(ctx, key))
	if !ok {
		return nil, ErrNotFound
	}
	return bytes.Clone(v.([]byte)), nil
}

func (s *memKV) Put(ctx context.Context, key string, value []byte) error {
	s.m.Store(tenantKey(ctx, key), bytes.Clone(value))
	return nil
}

func (s *memKV) Delete(ctx context.Context, key string) error {
	s.m.Delete(tenantKey(ctx, key))
	return nil
}
