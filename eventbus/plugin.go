package eventbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/plykit/ply"
	"github.com/plykit/ply/backbone/keys"
)

// Key is the typed API under which the plugin provides its [Bus], for
// plugins that publish events.
var Key = ply.NewKey[*Bus]("events.bus")

// HandlerOptions are an event handler's options.
type HandlerOptions struct {
	// Async delivers on the subscription's own goroutine with a bounded
	// buffer instead of in the publisher's goroutine.
	Async bool `json:"async,omitempty"`
	// Priority orders synchronous subscribers: lower first.
	Priority int `json:"priority,omitempty"`
	// Buffer is an asynchronous subscription's buffer. Default 256.
	Buffer int `json:"buffer,omitempty" jsonschema:"minimum=0"`
	// Remote receives the events from NATS (other hosts) instead of this
	// process's publishers.
	Remote bool `json:"remote,omitempty"`
}

// Plugin runs a host's event handlers: every ply handler of kind
// [ply.KindEvent] subscribes to the subject its name names (wildcards
// allowed), and each event goes through the handler's chain, so plugins
// wrap events as they wrap requests. The call's request is the event as
// JSON (a json.RawMessage). When a "backbone" plugin is registered, the bus
// also carries events across hosts over NATS.
type Plugin struct {
	bus    *Bus
	mu     sync.Mutex
	chains []*ply.Chain
	subs   []*Subscription
}

var (
	_ ply.Provisioner         = (*Plugin)(nil)
	_ ply.Binder              = (*Plugin)(nil)
	_ ply.Starter             = (*Plugin)(nil)
	_ ply.Stopper             = (*Plugin)(nil)
	_ ply.HandlerConfigurable = (*Plugin)(nil)
	_ ply.ReloadObserver      = (*Plugin)(nil)
)

// NewPlugin returns the event plugin.
func NewPlugin() *Plugin { return &Plugin{} }

// Info names the plugin "events", in the Route band: it binds event
// handlers as the HTTP server binds routes.
func (p *Plugin) Info() ply.Info {
	return ply.Info{Name: "events", Version: "0.1.0", Priority: ply.Route, Kinds: []ply.Kind{ply.KindEvent},
		Requires:    []ply.Dependency{{Name: "backbone", Constraint: "^0.1", Optional: true}},
		Description: "delivers events to event handlers, in process and over NATS"}
}

// HandlerOptions returns an event handler's options.
func (p *Plugin) HandlerOptions() any { return &HandlerOptions{} }

// Provision creates the bus (over the backbone's connection when there is
// one) and provides it under Key.
func (p *Plugin) Provision(_ context.Context, s *ply.Setup) error {
	opts := []Option{WithLogger(s.Logger())}
	switch nc, err := ply.Lookup(s, keys.Conn); {
	case err == nil:
		opts = append(opts, WithConn(nc))
	case !errors.Is(err, ply.ErrNotRegistered):
		return err
	}
	bus, err := New(opts...)
	if err != nil {
		return err
	}
	p.bus = bus
	return ply.Provide(s, Key, bus)
}

// Bind keeps the event chains, checking their subjects; Start subscribes.
func (p *Plugin) Bind(_ context.Context, chains []*ply.Chain) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.chains = p.chains[:0]
	var errs []error
	for _, ch := range chains {
		if ch.Handler().Kind != ply.KindEvent {
			continue
		}
		if !validSubject(ch.Handler().Name) {
			errs = append(errs, fmt.Errorf("module %s, handler %s: an event handler's name is the subject it subscribes to (tokens separated by dots; * and > as wildcards)",
				ch.Module().Name, ch.Handler().Name))
			continue
		}
		p.chains = append(p.chains, ch)
	}
	return errors.Join(errs...)
}

// Start subscribes every event handler.
func (p *Plugin) Start(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ch := range p.chains {
		var o HandlerOptions
		if ho, ok := ch.Options(p.Info().Name).(*HandlerOptions); ok {
			o = *ho
		}
		topic := NewTopic[json.RawMessage](ch.Handler().Name)
		fn := func(ctx context.Context, ev json.RawMessage) error {
			_, err := ch.Serve(ctx, ev, nil)
			return err
		}
		opts := []SubscribeOption{WithPriority(o.Priority)}
		if o.Buffer > 0 && (o.Async || o.Remote) {
			opts = append(opts, WithBuffer(o.Buffer))
		}
		if o.Remote {
			opts = append(opts, Remote())
		}
		subscribe := Subscribe[json.RawMessage]
		if o.Async {
			subscribe = SubscribeAsync[json.RawMessage]
		}
		sub, err := subscribe(p.bus, topic, fn, opts...)
		if err != nil {
			return errors.Join(fmt.Errorf("module %s, handler %s: %w", ch.Module().Name, ch.Handler().Name, err), p.stopAll(context.Background()))
		}
		p.subs = append(p.subs, sub)
	}
	return nil
}

// Stop drains every subscription (asynchronous ones deliver what they
// buffered, or until ctx ends), then closes the bus.
func (p *Plugin) Stop(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopAll(ctx)
}

func (p *Plugin) stopAll(ctx context.Context) error {
	var errs []error
	for _, s := range p.subs {
		errs = append(errs, s.Drain(ctx))
	}
	p.subs = nil
	errs = append(errs, p.bus.Close(ctx))
	return errors.Join(errs...)
}

// ReloadTopic is where the plugin publishes a [Reload] after every reload
// of its host ([ply.Host.Reload]): "ply.reload". With a backbone, the
// event also goes to NATS, so every host's reloads can be followed from
// one place.
var ReloadTopic = NewTopic[Reload]("ply.reload")

// Reload is the event of one reload of a host: what [ply.Reloaded] says,
// and its outcome.
type Reload struct {
	Generation uint64        `json:"generation"`         // the generation serving afterwards
	Added      []string      `json:"added,omitempty"`    // plugins new to the host, by ID
	Replaced   []string      `json:"replaced,omitempty"` // plugins rebuilt
	Removed    []string      `json:"removed,omitempty"`  // plugins no longer in the host
	Chains     int           `json:"chains"`             // chains recompiled
	Took       time.Duration `json:"took"`               // in nanoseconds
	Outcome    string        `json:"outcome"`            // ply.ReloadOK, ply.ReloadFailed or ply.ReloadRolledBack
	Error      string        `json:"error,omitempty"`    // why it failed or rolled back
}

// ObserveReload publishes the reload on [ReloadTopic], from the goroutine
// that reloaded: synchronous subscribers run before the reload returns. A
// failed publish is logged.
func (p *Plugin) ObserveReload(r ply.Reloaded, err error) {
	ev := Reload{Generation: r.Generation, Added: r.Added, Replaced: r.Replaced, Removed: r.Removed,
		Chains: r.Chains, Took: r.Took, Outcome: r.Outcome(err)}
	if err != nil {
		ev.Error = err.Error()
	}
	// The reload has ended: there is no context of a caller to carry.
	if err := Publish(context.Background(), p.bus, ReloadTopic, ev); err != nil {
		p.bus.logger.Warn("publishing the reload event", "generation", r.Generation, "err", err)
	}
}
