package admin

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/plykit/ply"
)

// traceKey holds, in a sampled call's bag, the trace its layers add to.
var traceKey = ply.NewKey[*trace]("admin.trace")

// Call is one sampled call as the inspector shows it.
type Call struct {
	ID      uint64        `json:"id"`
	Time    time.Time     `json:"time"` // when it began
	Module  string        `json:"module"`
	Handler string        `json:"handler"`
	Kind    ply.Kind      `json:"kind"`
	Request string        `json:"request,omitempty"` // for HTTP, "GET /api/hello"
	Status  int           `json:"status,omitempty"`  // for HTTP, the status written, when the chain wrote one
	Took    time.Duration `json:"took"`              // nanoseconds, the whole chain
	Error   string        `json:"error,omitempty"`   // what the chain returned
	// Layers are the layers that ran, in the order they were entered
	// (outermost first); a layer that ran twice (a retry) is there twice.
	Layers []Span `json:"layers"`
	// AfterHooks are the plugins whose after-hooks ran once the outermost
	// layer returned, in the order they ran: every after-hook of the chain
	// runs for every call. Their own times and errors are not recorded.
	AfterHooks []string `json:"afterHooks,omitempty"`
}

// Span is one layer's part in a sampled call.
type Span struct {
	Plugin       string        `json:"plugin"`
	Start        time.Duration `json:"start"` // since the call began, nanoseconds
	Took         time.Duration `json:"took"`  // with the inner layers
	Self         time.Duration `json:"self"`  // without them
	ShortCircuit bool          `json:"shortCircuit"`
	Error        string        `json:"error,omitempty"`
}

// trace is a sampled call being recorded. Only the call's goroutine
// writes it, until the sampler hands it to the ring.
type trace struct {
	start time.Time
	call  Call
}

// add records a layer that returned; samples come inner → outer.
func (tr *trace) add(s ply.LayerSample) {
	end := time.Since(tr.start)
	sp := Span{Plugin: s.Plugin, Start: end - s.Took, Took: s.Took, Self: s.Self, ShortCircuit: s.ShortCircuit}
	if s.Err != nil {
		sp.Error = s.Err.Error()
	}
	tr.call.Layers = append(tr.call.Layers, sp)
}

// withStatus is the response of an HTTP call that knows its status
// (httpserver's ResponseWriter).
type withStatus interface{ Status() int }

// sampler returns the admin's layer for one chain: it counts the chain's
// calls and, for one in SampleEvery, records the call for the inspector.
// Unsampled calls cost an atomic add and a clock read for the chain's
// figures.
func (p *Plugin) sampler(module, handler string, kind ply.Kind) ply.Layer {
	cs := p.stats.chain(module, handler)
	every := uint64(p.opts.SampleEvery) //nolint:gosec // positive: Wrap adds no layer for a negative one
	return func(ctx context.Context, c *ply.Call, next ply.Next) error {
		n := cs.seq.Add(1)
		if n%every != 0 {
			start := time.Now()
			err := next.Run(ctx)
			cs.took.record(time.Since(start))
			cs.calls.Add(1)
			if err != nil {
				cs.errors.Add(1)
			}
			return err
		}
		tr := &trace{start: time.Now(), call: Call{Module: module, Handler: handler, Kind: kind}}
		if r, ok := c.Request().(*http.Request); ok {
			tr.call.Request = r.Method + " " + r.URL.Path
		}
		ply.Set(c, traceKey, tr)
		err := next.Run(ctx)
		ply.Set(c, traceKey, nil) // the samples after this one (this layer's own) are not the trace's
		tr.call.Took = time.Since(tr.start)
		cs.took.record(tr.call.Took)
		cs.calls.Add(1)
		if err != nil {
			cs.errors.Add(1)
			tr.call.Error = err.Error()
		}
		if s, ok := c.Response().(withStatus); ok {
			tr.call.Status = s.Status()
		}
		tr.call.Time = tr.start
		slices.Reverse(tr.call.Layers) // entered order: outermost first
		slices.SortStableFunc(tr.call.Layers, func(a, b Span) int { return int(a.Start - b.Start) })
		p.calls.add(&tr.call)
		return err
	}
}

// ring keeps the last sampled calls.
type ring struct {
	mu    sync.Mutex
	calls []*Call
	next  int
	ids   uint64
}

func newRing(n int) *ring { return &ring{calls: make([]*Call, n)} }

func (r *ring) add(c *Call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids++
	c.ID = r.ids
	r.calls[r.next] = c
	r.next = (r.next + 1) % len(r.calls)
}

// list returns the kept calls, newest first.
func (r *ring) list() []*Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Call, 0, len(r.calls))
	for i := range r.calls {
		if c := r.calls[(r.next-1-i+2*len(r.calls))%len(r.calls)]; c != nil {
			out = append(out, c)
		}
	}
	return out
}

func (r *ring) get(id uint64) *Call {
	for _, c := range r.list() {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// Reload is one reload in the history.
type Reload struct {
	Time       time.Time     `json:"time"`
	Generation uint64        `json:"generation"`
	Summary    string        `json:"summary"` // ply.Reloaded's String
	Outcome    string        `json:"outcome"` // ply.ReloadOK, ReloadFailed, ReloadRolledBack
	Error      string        `json:"error,omitempty"`
	Took       time.Duration `json:"took"`
}

// reloads keeps the last 50 reloads, oldest first.
type reloads struct {
	mu   sync.Mutex
	list []Reload
}

func (r *reloads) add(rl ply.Reloaded, err error) {
	e := Reload{Time: time.Now(), Generation: rl.Generation, Summary: rl.String(), Outcome: rl.Outcome(err), Took: rl.Took}
	if err != nil {
		e.Error = err.Error()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, e)
	if len(r.list) > 50 {
		r.list = slices.Delete(r.list, 0, len(r.list)-50)
	}
}

func (r *reloads) all() []Reload {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.list)
	slices.Reverse(out)
	return out
}

// Calls returns the sampled calls the inspector keeps, newest first.
func (p *Plugin) Calls() []*Call { return p.calls.list() }
