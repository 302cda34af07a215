package admin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/plykit/ply"
	"github.com/plykit/ply/internal/draw"
	"github.com/plykit/ply/internal/options"
)

// ErrNotFound is wrapped by a [Jobs] or [Reloader] error for something
// that does not exist (a dead job already retried): the API answers 404.
var ErrNotFound = errors.New("admin: not found")

// PluginRow is one plugin on the overview.
type PluginRow struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	Band        string `json:"band,omitempty"` // system, security…; empty between the bands
	Priority    int    `json:"priority"`
	State       string `json:"state"`            // starting, ok, degraded, failed, stopping, stopped, lazy, loading
	Health      string `json:"health,omitempty"` // why it is degraded or failed
	Policy      string `json:"policy"`           // required or optional
	Lazy        bool   `json:"lazy"`
	Loaded      bool   `json:"loaded"` // false for a lazy plugin not loaded yet
	Description string `json:"description,omitempty"`
}

// Overview is the overview page's data.
type Overview struct {
	Plugins []PluginRow `json:"plugins"`
	Tenants []Tenant    `json:"tenants,omitempty"`
}

func bandOf(prio int) string {
	if prio == 0 {
		prio = ply.Business
	}
	return ply.Band(prio) // "" between the bands
}

// plugins returns every plugin in lifecycle order with its state.
func (p *Plugin) plugins(ctx context.Context) (Overview, error) {
	plan, err := p.host.Plan()
	if err != nil {
		return Overview{}, err
	}
	infos := map[string]ply.Info{}
	for _, in := range plan.Order(ply.LifecycleOrder) {
		infos[in.ID()] = in
	}
	var ov Overview
	for _, st := range p.host.Health(ctx) {
		in := infos[st.Name+"@"+st.Version]
		prio := cmp.Or(in.Priority, ply.Business)
		row := PluginRow{Name: st.Name, Version: st.Version, Band: bandOf(prio), Priority: prio, State: st.State.String(),
			Policy: st.Policy.String(), Lazy: in.Lazy, Loaded: st.State != ply.StateLazy && st.State != ply.StateLoading, Description: in.Description}
		if st.Err != nil {
			row.Health = st.Err.Error()
		}
		ov.Plugins = append(ov.Plugins, row)
	}
	if p.opts.Tenants != nil {
		if ov.Tenants, err = p.opts.Tenants(ctx); err != nil {
			return ov, err
		}
	}
	return ov, nil
}

// PluginDetail is one plugin's page: its info, its options with secrets
// redacted, and why it sits where it does.
type PluginDetail struct {
	PluginRow
	Requires  []string `json:"requires,omitempty"` // "backbone ^0.1"
	Before    []string `json:"before,omitempty"`
	After     []string `json:"after,omitempty"`
	Options   any      `json:"options,omitempty"`   // secrets redacted
	Lifecycle string   `json:"lifecycle,omitempty"` // why it starts where it does
	Chain     string   `json:"chain,omitempty"`     // why its layer sits where it does
	Chains    []string `json:"chains,omitempty"`    // the handlers it contributes to
}

func (p *Plugin) plugin(ctx context.Context, name string) (PluginDetail, error) {
	ov, err := p.plugins(ctx)
	if err != nil {
		return PluginDetail{}, err
	}
	i := slices.IndexFunc(ov.Plugins, func(r PluginRow) bool { return r.Name == name })
	if i < 0 {
		return PluginDetail{}, notFound("no plugin %q in this host", name)
	}
	d := PluginDetail{PluginRow: ov.Plugins[i]}
	plan, err := p.host.Plan()
	if err != nil {
		return d, err
	}
	for _, kind := range []ply.OrderKind{ply.LifecycleOrder, ply.ChainOrder} {
		for j, st := range plan.Explain(kind).Steps {
			if st.Plugin.Name != name {
				continue
			}
			why := st.Reason
			if j == 0 {
				why = "first: nothing comes before it"
			}
			if kind == ply.LifecycleOrder {
				d.Lifecycle = fmt.Sprintf("%d. %s", j+1, why)
				for _, dep := range st.Plugin.Requires {
					d.Requires = append(d.Requires, strings.TrimSpace(dep.Name+" "+dep.Constraint))
				}
				d.Before, d.After = st.Plugin.Before, st.Plugin.After
			} else {
				d.Chain = fmt.Sprintf("%d. %s", j+1, why)
			}
		}
	}
	for _, pl := range p.host.Plugins() {
		if pl.Info().Name != name {
			continue
		}
		if c, ok := pl.(ply.Configurable); ok && c.Options() != nil {
			if d.Options, err = options.Redact(c.Options()); err != nil {
				d.Options = "options not shown: " + err.Error()
			}
		}
	}
	for _, ch := range p.host.Chains() {
		for _, st := range ch.Explain().Steps {
			if st.Plugin.Name == name {
				d.Chains = append(d.Chains, ch.Module().Name+": "+ch.Handler().Name)
			}
		}
	}
	return d, nil
}

// svg draws the host's graph, plugins coloured by state.
func (p *Plugin) svg(ctx context.Context) (string, error) {
	plan, err := p.host.Plan()
	if err != nil {
		return "", err
	}
	states := map[string]string{}
	for _, st := range p.host.Health(ctx) {
		states[st.Name] = st.State.String()
	}
	var b strings.Builder
	draw.New(plan, p.host.Chains()).StyledSVG(&b, func(in ply.Info) draw.Style {
		st := states[in.Name]
		c := stateColours[st]
		return draw.Style{Fill: c[0], Stroke: c[1], Title: in.ID() + ": " + st,
			Attrs: `class="plugin state-` + html.EscapeString(st) + `" data-plugin="` + html.EscapeString(in.Name) + `"`}
	})
	return b.String(), nil
}

// stateColours are the fill and stroke of a plugin's box by state.
var stateColours = map[string][2]string{
	"ok":       {"#e6f4ea", "#2e7d32"},
	"degraded": {"#fff4e0", "#ef6c00"},
	"failed":   {"#fdecea", "#c62828"},
	"starting": {"#eef3fb", "#3b6db3"},
	"loading":  {"#eef3fb", "#3b6db3"},
	"lazy":     {"#f5f5f5", "#9e9e9e"},
	"stopping": {"#f5f5f5", "#616161"},
	"stopped":  {"#f5f5f5", "#616161"},
}

func (p *Plugin) graphSVG(w http.ResponseWriter, r *http.Request) {
	s, err := p.svg(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(s)) // the client went away: nothing to do
}

func (p *Plugin) call(idText string) (*Call, error) {
	id, err := strconv.ParseUint(idText, 10, 64)
	if err != nil {
		return nil, badRequest("call %q: want its number", idText)
	}
	c := p.calls.get(id)
	if c == nil {
		return nil, notFound("call %d is not kept (any more): the inspector keeps the last %d", id, p.opts.Keep)
	}
	out := *c
	out.AfterHooks = nil
	if ch, err := p.host.Chain(c.Module, c.Handler); err == nil {
		for _, st := range ch.Explain().Steps {
			if st.After {
				out.AfterHooks = append(out.AfterHooks, st.Plugin.Name)
			}
		}
	}
	return &out, nil
}

// JobsView is the jobs page's data.
type JobsView struct {
	Queues []QueueView `json:"queues"`
	Topics []TopicView `json:"topics"`
	Note   string      `json:"note,omitempty"`
	Done   string      `json:"-"` // the page's: the action just done (retry, discard)
}

// QueueView is a queue with its first dead jobs.
type QueueView struct {
	Queue
	DeadJobs []DeadJob `json:"deadJobs,omitempty"`
}

// TopicView is an event topic: its subscription, and the handler's calls
// and rate when a ply event handler serves it.
type TopicView struct {
	Topic
	Calls  uint64  `json:"calls"`
	Errors uint64  `json:"errors"`
	Rate   float64 `json:"rate"` // calls per second, over the last few seconds
}

func (p *Plugin) jobsView(ctx context.Context, deadLimit int) (JobsView, error) {
	v := JobsView{Queues: []QueueView{}, Topics: []TopicView{}}
	if p.queues == nil {
		v.Note = "this host has no job queues"
		return v, nil
	}
	qs, err := p.queues.Queues(ctx)
	if err != nil {
		return v, err
	}
	for _, q := range qs {
		qv := QueueView{Queue: q}
		if deadLimit > 0 && q.Dead > 0 {
			if qv.DeadJobs, err = p.queues.Dead(ctx, q.Name, deadLimit); err != nil {
				return v, err
			}
		}
		v.Queues = append(v.Queues, qv)
	}
	topics, err := p.queues.Topics(ctx)
	if err != nil {
		return v, err
	}
	rates := p.rates()
	for _, t := range topics {
		tv := TopicView{Topic: t}
		for _, cf := range p.Chains() {
			if cf.Kind == ply.KindEvent && cf.Handler == t.Subject {
				tv.Calls, tv.Errors = cf.Calls, cf.Errors
				tv.Rate = rates[chainKey{cf.Module, cf.Handler}]
			}
		}
		v.Topics = append(v.Topics, tv)
	}
	return v, nil
}

// rates returns each chain's calls per second since the previous reading
// at least a second old.
func (p *Plugin) rates() map[chainKey]float64 {
	now := time.Now()
	out := map[chainKey]float64{}
	p.stats.mu.Lock()
	defer p.stats.mu.Unlock()
	for k, cs := range p.stats.chains {
		calls := cs.calls.Load()
		if cs.lastAt.IsZero() {
			cs.lastAt, cs.lastCalls = now, calls
			continue
		}
		if el := now.Sub(cs.lastAt); el > 0 {
			cs.rate = float64(calls-cs.lastCalls) / el.Seconds()
		}
		if now.Sub(cs.lastAt) >= time.Second {
			cs.lastAt, cs.lastCalls = now, calls
		}
		out[k] = cs.rate
	}
	return out
}

func (p *Plugin) dead(ctx context.Context, queue string, limit int) ([]DeadJob, error) {
	if p.queues == nil {
		return nil, notFound("this host has no job queues")
	}
	return p.queues.Dead(ctx, queue, limit)
}

// ConfigView is the configuration the host runs.
type ConfigView struct {
	File string `json:"file"`
	Data string `json:"data"`
}

func (p *Plugin) config() (ConfigView, error) {
	if p.opts.Reloader == nil {
		return ConfigView{}, notFound("this host reloads only from Go: there is no configuration to show")
	}
	name, data, err := p.opts.Reloader.Config()
	return ConfigView{File: name, Data: string(data)}, err
}

func (p *Plugin) preview(ctx context.Context, data []byte) (Preview, error) {
	if p.opts.Reloader == nil {
		return Preview{}, notFound("this host reloads only from Go")
	}
	pv, err := p.opts.Reloader.Preview(ctx, data)
	if err != nil {
		return pv, &httpError{http.StatusUnprocessableEntity, err.Error()}
	}
	return pv, nil
}

// Applied is the outcome of a reload from the page.
type Applied struct {
	Summary string `json:"summary"`
	Outcome string `json:"outcome"`
	Error   string `json:"error,omitempty"`
}

func (p *Plugin) apply(ctx context.Context, data []byte) (Applied, error) {
	if p.opts.Reloader == nil {
		return Applied{}, notFound("this host reloads only from Go")
	}
	p.logger.Info("admin: reload requested from the admin page")
	rl, err := p.opts.Reloader.Apply(ctx, data)
	a := Applied{Summary: rl.String(), Outcome: rl.Outcome(err)}
	if err != nil {
		a.Error = err.Error()
		return a, &httpError{http.StatusUnprocessableEntity, err.Error()}
	}
	return a, nil
}

func (p *Plugin) logLines(plugin string, limit int) []Line {
	if p.opts.Logs == nil {
		return nil
	}
	return p.opts.Logs.Lines(plugin, limit)
}
