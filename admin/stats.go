package admin

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/plykit/ply"
)

// layerStat is one layer's figures in one handler's chain, kept across
// reloads that recompile the chain (by module, handler and plugin).
type layerStat struct {
	plugin, module, handler string
	kind                    ply.Kind
	calls, errors, shorts   atomic.Uint64
	self                    histogram
}

// registry holds every layer's figures. Its lock is taken when a chain is
// compiled and when a page reads, never per call.
type registry struct {
	mu     sync.Mutex
	layers map[layerKey]*layerStat
	chains map[chainKey]*chainStat
}

type layerKey struct{ module, handler, plugin string }

type chainKey struct{ module, handler string }

// chainStat is a chain's figures as its outermost layer (the admin's)
// counts them: calls, errors, and the calls' whole time.
type chainStat struct {
	calls, errors atomic.Uint64
	seq           atomic.Uint64 // numbers calls for sampling
	took          histogram

	// Under registry.mu: the reading rates are computed from.
	lastAt    time.Time
	lastCalls uint64
	rate      float64
}

func newRegistry() *registry {
	return &registry{layers: map[layerKey]*layerStat{}, chains: map[chainKey]*chainStat{}}
}

func (r *registry) layer(s ply.LayerSample) *layerStat {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := layerKey{s.Module, s.Handler, s.Plugin}
	st := r.layers[k]
	if st == nil {
		st = &layerStat{plugin: s.Plugin, module: s.Module, handler: s.Handler, kind: s.Kind}
		r.layers[k] = st
	}
	return st
}

func (r *registry) chain(module, handler string) *chainStat {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := chainKey{module, handler}
	st := r.chains[k]
	if st == nil {
		st = &chainStat{}
		r.chains[k] = st
	}
	return st
}

// lookup returns a layer's figures, or nil when it never was compiled.
func (r *registry) lookup(module, handler, plugin string) *layerStat {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.layers[layerKey{module, handler, plugin}]
}

// PrepareLayer returns the layer's figures, made once per (module,
// handler, plugin): every sample of the layer finds them as Prepared.
func (p *Plugin) PrepareLayer(s ply.LayerSample) any { return p.stats.layer(s) }

// ObserveLayer counts the layer's call, error and short-circuit, records
// its self-time, and, for a call the inspector samples, adds the layer to
// the call's timeline. It is a few atomic adds per layer; the bag lookup
// finds no trace for the calls not sampled.
func (p *Plugin) ObserveLayer(s ply.LayerSample) {
	st, ok := s.Prepared.(*layerStat)
	if !ok {
		return
	}
	st.calls.Add(1)
	if s.Err != nil {
		st.errors.Add(1)
	}
	if s.ShortCircuit {
		st.shorts.Add(1)
	}
	st.self.record(s.Self)
	if s.Call != nil && p.opts.SampleEvery > 0 { // the inspector on: is this call sampled?
		if tr, ok := ply.Get(s.Call, traceKey); ok && tr != nil {
			tr.add(s)
		}
	}
}

// LayerFigures are one layer's figures in one chain.
type LayerFigures struct {
	Plugin        string        `json:"plugin"`
	Version       string        `json:"version"`
	Layer         bool          `json:"layer"` // false: the plugin contributes an after-hook only
	After         bool          `json:"after"` // the plugin has an after-hook in this chain
	Calls         uint64        `json:"calls"`
	Errors        uint64        `json:"errors"`
	ShortCircuits uint64        `json:"shortCircuits"`
	SelfP50       time.Duration `json:"selfP50"` // nanoseconds
	SelfP99       time.Duration `json:"selfP99"`
}

// ChainFigures are one handler's chain, outermost layer first, with live
// figures per layer.
type ChainFigures struct {
	Module  string         `json:"module"`
	Handler string         `json:"handler"`
	Kind    ply.Kind       `json:"kind"`
	Calls   uint64         `json:"calls"`  // calls of the chain (counted by the admin's own layer)
	Errors  uint64         `json:"errors"` // calls that returned an error
	P50     time.Duration  `json:"p50"`    // whole call, nanoseconds
	P99     time.Duration  `json:"p99"`
	Layers  []LayerFigures `json:"layers"`
}

// Chains returns every handler's chain with its figures, in mount order.
func (p *Plugin) Chains() []ChainFigures {
	var out []ChainFigures
	for _, ch := range p.host.Chains() {
		cf := ChainFigures{Module: ch.Module().Name, Handler: ch.Handler().Name, Kind: ch.Handler().Kind}
		cs := p.stats.chain(cf.Module, cf.Handler)
		cf.Calls, cf.Errors = cs.calls.Load(), cs.errors.Load()
		q := cs.took.quantiles(0.5, 0.99)
		cf.P50, cf.P99 = q[0], q[1]
		for _, step := range ch.Explain().Steps {
			lf := LayerFigures{Plugin: step.Plugin.Name, Version: step.Plugin.Version, Layer: step.Layer, After: step.After}
			if st := p.stats.lookup(cf.Module, cf.Handler, step.Plugin.Name); st != nil {
				lf.Calls, lf.Errors, lf.ShortCircuits = st.calls.Load(), st.errors.Load(), st.shorts.Load()
				q := st.self.quantiles(0.5, 0.99)
				lf.SelfP50, lf.SelfP99 = q[0], q[1]
			}
			cf.Layers = append(cf.Layers, lf)
		}
		out = append(out, cf)
	}
	return out
}
