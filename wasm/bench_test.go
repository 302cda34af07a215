package wasm_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/plykit/ply"
	"github.com/plykit/ply/wasm"
	"github.com/plykit/ply/wasm/abi"
)

// benchCache is the compilation cache the benchmarks share, warm after
// their first use.
func benchCache() string { return filepath.Join(os.TempDir(), "ply-wasm-test-cache") }

// BenchmarkWasmCall compares a call through a ply chain whose only layer is
// a wasm plugin with a raw wazero call doing the same work: the same guest
// function (ply_layer of the same module), the same request bytes in, the
// same result read back. work=empty: an empty request, the guest continues
// (ply then calls the handler, which does nothing); work=1KiB: 1 KiB in,
// the guest responds with it, 1 KiB out into a buffer.
//
// Both runtimes are compiled with termination checks (wazero's
// WithCloseOnContextDone): a ply plugin always can be stopped, so the raw
// call pays wazero's own per-call cost of that too. ply's deadline timer,
// pool, encoding and chain are on ply's side only. NOTERM=1 in the
// environment runs the raw side without termination checks, to show what
// they cost (ply has no such mode: a guest could then never be stopped).
func BenchmarkWasmCall(b *testing.B) {
	payload := bytes.Repeat([]byte("x"), 1024)
	works := []struct {
		name string
		req  []byte // nil: empty
	}{{"empty", nil}, {"1KiB", payload}}

	b.Run("impl=ply", func(b *testing.B) {
		p, err := wasm.Open(b.Context(), wasm.Config{Path: hostileWasm, CacheDir: benchCache(), Grants: hostileGrants, Publish: publish, Limits: wasm.Limits{Pool: 1}})
		if err != nil {
			b.Fatal(err)
		}
		h, err := ply.New([]ply.Plugin{p}, ply.WithLogger(discard()), ply.WithModules(ply.Module{Name: "site", Handlers: []ply.Handler{
			{Kind: ply.KindRPC, Name: "echo", Func: func(context.Context, *ply.Call) error { return nil }},
		}}))
		if err != nil {
			b.Fatal(err)
		}
		if err := h.Start(b.Context()); err != nil {
			b.Fatal(err)
		}
		defer func() { _ = h.Stop(context.WithoutCancel(b.Context())) }()
		ch, err := h.Chain("site", "echo")
		if err != nil {
			b.Fatal(err)
		}
		for _, w := range works {
			b.Run("work="+w.name, func(b *testing.B) {
				ctx := b.Context()
				var out bytes.Buffer
				var req any
				if w.req != nil {
					req = w.req
				}
				b.ReportAllocs()
				for b.Loop() {
					out.Reset()
					if _, err := ch.Serve(ctx, req, &out); err != nil {
						b.Fatal(err)
					}
				}
				if out.Len() != len(w.req) {
					b.Fatalf("got %d bytes back, want %d", out.Len(), len(w.req))
				}
			})
		}
	})

	b.Run("impl=wazero", func(b *testing.B) {
		ctx := context.Background() // the cheapest context for wazero to watch
		r := rawRuntime(b, os.Getenv("NOTERM") == "")
		mod := rawInstance(b, r)
		layer := mod.ExportedFunction("ply_layer")
		mem := mod.Memory()
		stack := []uint64{16 << 10}
		if err := mod.ExportedFunction("ply_buffer").CallWithStack(ctx, stack); err != nil {
			b.Fatal(err)
		}
		buf := uint32(stack[0])           //nolint:gosec // a wasm i32 pointer
		n := uint64(rawOptions(mem, buf)) //nolint:gosec // a length of 1
		if _, err := mod.ExportedFunction("ply_init").Call(ctx, n); err != nil {
			b.Fatal(err)
		}
		for _, w := range works {
			b.Run("work="+w.name, func(b *testing.B) {
				msg := requestBytes(w.req)
				var out bytes.Buffer
				b.ReportAllocs()
				for b.Loop() {
					out.Reset()
					mem.Write(buf, msg)
					stack[0] = uint64(len(msg))
					if err := layer.CallWithStack(ctx, stack[:1]); err != nil {
						b.Fatal(err)
					}
					res, _ := mem.Read(uint32(stack[0]>>32), uint32(stack[0])) //nolint:gosec // a packed pointer and length
					if res[0] == abi.Respond {                                 // continue's result has no body
						out.Write(resultBody(res))
					}
				}
				if out.Len() != len(w.req) {
					b.Fatalf("got %d bytes back, want %d", out.Len(), len(w.req))
				}
			})
		}
	})
}

// requestBytes is the request message ply sends for an RPC call of
// site/echo with body req.
func requestBytes(req []byte) []byte {
	w := abi.NewWriter(nil)
	for _, s := range []string{"rpc", "site", "echo", "", ""} {
		w.String(s)
	}
	w.Uvarint(0)
	w.BytesField(req)
	return w.Bytes()
}

// resultBody returns the body of a respond result: after the action and
// two empty lists of header edits, the status.
func resultBody(res []byte) []byte {
	r := abi.NewReader(res[3:])
	r.Uvarint()
	return r.Bytes()
}

// rawOptions writes the empty options message at buf and returns its length.
func rawOptions(mem api.Memory, buf uint32) int {
	mem.WriteByte(buf, 0)
	return 1
}

// rawRuntime is a wazero runtime as a user would set one up for the
// module: the compilation cache, WASI, and the host functions it imports,
// doing nothing (the benchmark's calls use none of them).
func rawRuntime(b *testing.B, terminate bool) wazero.Runtime {
	b.Helper()
	ctx := b.Context()
	cache, err := wazero.NewCompilationCacheWithDir(benchCache())
	if err != nil {
		b.Fatal(err)
	}
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache).
		WithMemoryLimitPages(512).WithCloseOnContextDone(terminate))
	b.Cleanup(func() { _ = r.Close(context.Background()); _ = cache.Close(context.Background()) })
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	noop := api.GoModuleFunc(func(context.Context, api.Module, []uint64) {})
	_, err = r.NewHostModuleBuilder("ply").
		NewFunctionBuilder().WithGoModuleFunction(noop, []api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32}, nil).Export("log").
		NewFunctionBuilder().WithGoModuleFunction(noop, []api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI64}).Export("kv_get").
		NewFunctionBuilder().WithGoModuleFunction(noop, []api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}).Export("kv_set").
		NewFunctionBuilder().WithGoModuleFunction(noop, nil, []api.ValueType{api.ValueTypeI64}).Export("clock_now").
		NewFunctionBuilder().WithGoModuleFunction(noop, []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, nil).Export("random").
		NewFunctionBuilder().WithGoModuleFunction(noop, []api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI64}).Export("http_fetch").
		NewFunctionBuilder().WithGoModuleFunction(noop, []api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}).Export("publish").
		Instantiate(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func rawInstance(b *testing.B, r wazero.Runtime) api.Module {
	b.Helper()
	data, err := os.ReadFile(hostileWasm)
	if err != nil {
		b.Fatal(err)
	}
	compiled, err := r.CompileModule(b.Context(), data)
	if err != nil {
		b.Fatal(err)
	}
	mod, err := r.InstantiateModule(b.Context(), compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize"))
	if err != nil {
		b.Fatal(err)
	}
	return mod
}

// BenchmarkWasmLoad measures a warm load of the example plugin (its
// compiled code in the on-disk cache): wasm.Open — read, hash, compile from
// the cache, check, instantiate, read the manifest — beside raw wazero's
// cache-hit compile and first instance.
func BenchmarkWasmLoad(b *testing.B) {
	if _, err := wasm.Open(b.Context(), wasm.Config{Path: denylistWasm, CacheDir: benchCache()}); err != nil { // warm the cache
		b.Fatal(err)
	}
	b.Run("impl=ply", func(b *testing.B) {
		for b.Loop() {
			if _, err := wasm.Open(b.Context(), wasm.Config{Path: denylistWasm, CacheDir: benchCache()}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=wazero", func(b *testing.B) {
		ctx := b.Context()
		for b.Loop() {
			data, err := os.ReadFile(denylistWasm)
			if err != nil {
				b.Fatal(err)
			}
			cache, err := wazero.NewCompilationCacheWithDir(benchCache())
			if err != nil {
				b.Fatal(err)
			}
			r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache).WithCloseOnContextDone(true))
			wasi_snapshot_preview1.MustInstantiate(ctx, r)
			compiled, err := r.CompileModule(ctx, data)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := r.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize")); err != nil {
				b.Fatal(err)
			}
			_ = r.Close(ctx)
			_ = cache.Close(ctx)
		}
	})
}

// BenchmarkWasmInstance measures one more instance of the example plugin:
// the time to make it and its memory (the guest's linear memory plus the
// Go heap it took), in ply's pool and in raw wazero.
func BenchmarkWasmInstance(b *testing.B) {
	b.Run("impl=ply", func(b *testing.B) {
		p, err := wasm.Open(b.Context(), wasm.Config{Path: denylistWasm, CacheDir: benchCache(), Limits: wasm.Limits{Pool: 1}})
		if err != nil {
			b.Fatal(err)
		}
		opts := ply.RawOptions{File: "ply.yaml", Data: []byte("deny: [mallory]\n")}
		h, err := ply.New([]ply.Plugin{p}, ply.WithLogger(discard()), ply.WithOptions("denylist", opts))
		if err != nil {
			b.Fatal(err)
		}
		if err := h.Start(b.Context()); err != nil {
			b.Fatal(err)
		}
		defer func() { _ = h.Stop(context.WithoutCancel(b.Context())) }()
		measure(b, func() (uint32, func()) {
			size, closeFn, err := wasm.Instantiate(b.Context(), p)
			if err != nil {
				b.Fatal(err)
			}
			return size, closeFn
		})
	})
	b.Run("impl=wazero", func(b *testing.B) {
		ctx := b.Context()
		data, err := os.ReadFile(denylistWasm)
		if err != nil {
			b.Fatal(err)
		}
		cache, err := wazero.NewCompilationCacheWithDir(benchCache())
		if err != nil {
			b.Fatal(err)
		}
		r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache).WithCloseOnContextDone(true).WithMemoryLimitPages(512))
		defer func() { _ = r.Close(ctx); _ = cache.Close(ctx) }()
		wasi_snapshot_preview1.MustInstantiate(ctx, r)
		compiled, err := r.CompileModule(ctx, data)
		if err != nil {
			b.Fatal(err)
		}
		measure(b, func() (uint32, func()) {
			mod, err := r.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize"))
			if err != nil {
				b.Fatal(err)
			}
			// The same first call ply makes: the guest's input buffer and
			// its options.
			stack := []uint64{16 << 10}
			if err := mod.ExportedFunction("ply_buffer").CallWithStack(ctx, stack); err != nil {
				b.Fatal(err)
			}
			msg := binary.AppendUvarint(nil, 0)
			mod.Memory().Write(uint32(stack[0]), msg) //nolint:gosec // a wasm i32 pointer
			if _, err := mod.ExportedFunction("ply_init").Call(ctx, uint64(len(msg))); err != nil {
				b.Fatal(err)
			}
			return mod.Memory().Size(), func() { _ = mod.Close(ctx) }
		})
	})
}

// measure makes b.N instances with newInstance, and reports the mean linear
// memory and Go heap growth per instance. They are all kept until the end,
// so the heap figure is what each one holds.
func measure(b *testing.B, newInstance func() (uint32, func())) {
	b.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var linear uint64
	closers := make([]func(), 0, b.N)
	b.ResetTimer()
	for range b.N {
		size, closeFn := newInstance()
		linear += uint64(size)
		closers = append(closers, closeFn)
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(linear)/float64(b.N)/(1<<20), "linear-MiB/instance")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(b.N)/(1<<20), "heap-MiB/instance")
	for _, c := range closers {
		c()
	}
}
