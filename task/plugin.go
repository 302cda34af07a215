package task

import (
	"context"
	"sync"

	"github.com/plykit/ply"
)

// Tasks is the key under which [Plugin] provides its group.
var Tasks = ply.NewKey[*Group]("tasks.group")

// Plugin is the "tasks" plugin: it owns a [Group] for the host. Create it
// with [NewPlugin]; its methods are safe for concurrent use.
type Plugin struct {
	mu sync.Mutex
	g  *Group
}

var (
	_ ply.Provisioner = (*Plugin)(nil)
	_ ply.Stopper     = (*Plugin)(nil)
	_ ply.Cleaner     = (*Plugin)(nil)
)

// NewPlugin returns the "tasks" plugin.
func NewPlugin() *Plugin { return &Plugin{} }

// Info names the plugin "tasks", in the [ply.System] band.
func (p *Plugin) Info() ply.Info {
	return ply.Info{
		Name:        "tasks",
		Version:     "0.1.0",
		Priority:    ply.System,
		Description: "supervised background tasks owned by the host",
	}
}

// Provision creates the group, logging to the plugin's logger, and
// provides it under [Tasks].
func (p *Plugin) Provision(_ context.Context, s *ply.Setup) error {
	g := NewGroup(s.Logger())
	p.mu.Lock()
	p.g = g
	p.mu.Unlock()
	return ply.Provide(s, Tasks, g)
}

// Stop stops the group: it cancels every task and waits for them, or for
// ctx.
func (p *Plugin) Stop(ctx context.Context) error { return p.stop(ctx) }

// Cleanup stops the group if Stop did not (a start that rolled back).
func (p *Plugin) Cleanup(ctx context.Context) error { return p.stop(ctx) }

func (p *Plugin) stop(ctx context.Context) error {
	p.mu.Lock()
	g := p.g
	p.mu.Unlock()
	if g == nil {
		return nil
	}
	return g.Stop(ctx)
}
