package jobqueue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/plykit/ply"
	"github.com/plykit/ply/backbone/keys"
)

// Key is the typed API under which the plugin provides its [Queue], for
// plugins that enqueue jobs.
var Key = ply.NewKey[*Queue]("jobs.queue")

// PluginOptions configure the [Plugin]. The zero value uses the queue's
// defaults.
type PluginOptions struct {
	// Stream names the work-queue stream. Default "PLY_JOBS".
	Stream string `json:"stream,omitempty" jsonschema:"pattern=^[A-Za-z0-9_-]*$"`
	// MaxAttempts is how many times a job's handler may fail before the
	// job is dead, unless the job says otherwise. Default 5.
	MaxAttempts int `json:"maxAttempts,omitempty" jsonschema:"minimum=0"`
	// MaxInterruptions is how many deliveries of a job may end without a
	// result (its worker died or was stopped first) before the job is
	// dead: the bound for a job that crashes its workers. Default 10.
	MaxInterruptions int `json:"maxInterruptions,omitempty" jsonschema:"minimum=0"`
	// AckWait is how long a job may run between heartbeats before it is
	// redelivered. Default 30s.
	AckWait time.Duration `json:"ackWait,omitempty" jsonschema:"minimum=0"`
	// Concurrency is the default number of jobs each queue runs at once.
	// Default 1.
	Concurrency int `json:"concurrency,omitempty" jsonschema:"minimum=0"`
	// Storage is where the streams are kept: "file", or "memory" (faster,
	// and lost when the server stops). Default "file".
	Storage string `json:"storage,omitempty" jsonschema:"enum=file,enum=memory"`
	// Replicas is the streams' replication factor in a cluster: 1, 3 or 5.
	// Default 1.
	Replicas int `json:"replicas,omitempty" jsonschema:"enum=1,enum=3,enum=5"`
	// Prefix is the subject prefix of the queues (see [WithPrefix]): dot
	// separated tokens of letters, digits, '-' and '_'. Default "ply.jobs".
	Prefix string `json:"prefix,omitempty" jsonschema:"pattern=^[A-Za-z0-9_-]+([.][A-Za-z0-9_-]+)*$"`
}

// HandlerOptions are a job handler's own options.
type HandlerOptions struct {
	// Concurrency overrides the plugin's default for this queue.
	Concurrency int `json:"concurrency,omitempty" jsonschema:"minimum=0"`
}

// Plugin runs a host's job handlers: every ply handler of kind
// [ply.KindJob] is the worker of the queue its name names, and each job
// goes through the handler's chain, so plugins wrap jobs as they wrap
// requests (metrics, tracing, timeouts). The job is the call's request (a
// *Job). It requires the "backbone" plugin, and drains its workers on Stop.
type Plugin struct {
	opts   PluginOptions
	q      *Queue
	mu     sync.Mutex
	chains []*ply.Chain
}

var (
	_ ply.Configurable        = (*Plugin)(nil)
	_ ply.Provisioner         = (*Plugin)(nil)
	_ ply.Binder              = (*Plugin)(nil)
	_ ply.Starter             = (*Plugin)(nil)
	_ ply.Stopper             = (*Plugin)(nil)
	_ ply.HandlerConfigurable = (*Plugin)(nil)
)

// NewPlugin returns the job plugin with opts.
func NewPlugin(opts PluginOptions) *Plugin { return &Plugin{opts: opts} }

// Info names the plugin "jobs", in the Route band: it binds job handlers
// as the HTTP server binds routes.
func (p *Plugin) Info() ply.Info {
	return ply.Info{Name: "jobs", Version: "0.1.0", Priority: ply.Route, Kinds: []ply.Kind{ply.KindJob},
		Requires:    []ply.Dependency{{Name: "backbone", Constraint: "^0.1"}},
		Description: "runs job handlers as workers of durable JetStream queues"}
}

// Options returns the plugin's options for the host to fill and check.
func (p *Plugin) Options() any { return &p.opts }

// HandlerOptions returns a job handler's options.
func (p *Plugin) HandlerOptions() any { return &HandlerOptions{} }

// Provision creates the queue's streams and provides the queue under Key.
func (p *Plugin) Provision(ctx context.Context, s *ply.Setup) error {
	js, err := ply.Lookup(s, keys.JetStream)
	if err != nil {
		return err
	}
	opts := []Option{WithLogger(s.Logger())}
	if p.opts.Stream != "" {
		opts = append(opts, WithStream(p.opts.Stream))
	}
	if p.opts.MaxAttempts > 0 {
		opts = append(opts, WithMaxAttempts(p.opts.MaxAttempts))
	}
	if p.opts.MaxInterruptions > 0 {
		opts = append(opts, WithMaxInterruptions(p.opts.MaxInterruptions))
	}
	if p.opts.AckWait > 0 {
		opts = append(opts, WithAckWait(p.opts.AckWait))
	}
	if p.opts.Storage == "memory" {
		opts = append(opts, WithMemoryStorage(true))
	}
	if p.opts.Replicas > 0 {
		opts = append(opts, WithReplicas(p.opts.Replicas))
	}
	if p.opts.Prefix != "" {
		opts = append(opts, WithPrefix(p.opts.Prefix))
	}
	if p.q, err = New(ctx, js, opts...); err != nil {
		return err
	}
	return ply.Provide(s, Key, p.q)
}

// Bind keeps the job chains; Start runs their workers.
func (p *Plugin) Bind(_ context.Context, chains []*ply.Chain) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.chains = p.chains[:0]
	for _, ch := range chains {
		if ch.Handler().Kind != ply.KindJob {
			continue
		}
		if !validQueue(ch.Handler().Name) {
			return fmt.Errorf("module %s, handler %s: a job handler's name is its queue's: %w", ch.Module().Name, ch.Handler().Name, ErrInvalidQueue)
		}
		p.chains = append(p.chains, ch)
	}
	return nil
}

// Start starts one set of workers per job handler.
func (p *Plugin) Start(ctx context.Context) error {
	p.mu.Lock()
	chains := append([]*ply.Chain(nil), p.chains...)
	p.mu.Unlock()
	for _, ch := range chains {
		n := max(p.opts.Concurrency, 1)
		if o, ok := ch.Options(p.Info().Name).(*HandlerOptions); ok && o.Concurrency > 0 {
			n = o.Concurrency
		}
		run := func(ctx context.Context, j *Job) error {
			_, err := ch.Serve(ctx, j, nil)
			return err
		}
		// The workers outlive Start: Stop ends them.
		if err := p.q.Handle(context.WithoutCancel(ctx), ch.Handler().Name, run, WithConcurrency(n)); err != nil {
			return errors.Join(err, p.q.Stop(ctx))
		}
	}
	return nil
}

// Stop drains the workers: they take no new jobs and the running ones
// finish (or ctx ends). The queue stays usable for Enqueue until the
// backbone closes.
func (p *Plugin) Stop(ctx context.Context) error { return p.q.Stop(ctx) }
