package config

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/plykit/ply"
	"github.com/plykit/ply/backbone/keys"
	"github.com/plykit/ply/eventbus"
	"github.com/plykit/ply/kv"
	"github.com/plykit/ply/wasm"
)

// wasmPlugin opens the WebAssembly module of entry i (runtime: wasm): its
// path is relative to the file; without a path, the lockfile pins it (see
// lockedPath). Problems are reported at their line: a
// capability the module imports but was not granted at grants (or at the
// entry when it has none), an unusable module at path, a manifest whose
// name is not the entry's at name.
func (l *loader) wasmPlugin(i int, p Plugin) (ply.Plugin, bool) {
	at := func(field string) string { return fmt.Sprintf("plugins[%d].%s", i, field) }
	path := p.Path
	if path == "" { // pinned by the lockfile: from the cache, verified
		var ok bool
		if path, ok = l.lockedPath(i, p); !ok {
			return nil, false
		}
	} else if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(l.name), path)
	}
	cfg := wasm.Config{Path: path}
	if p.Grants != nil {
		cfg.Grants = *p.Grants
	}
	if p.Limits != nil {
		cfg.Limits = *p.Limits
	}
	if len(cfg.Grants.Events) > 0 {
		publishOnBus(&cfg)
	}
	if cfg.Grants.KV {
		storeOnBackbone(&cfg)
	}
	wp, err := wasm.Open(context.Background(), cfg)
	if err != nil {
		for _, err := range flatten(err) {
			var ce *wasm.CapabilityError
			switch {
			case (errors.As(err, &ce) || errors.Is(err, wasm.ErrNoPublisher)) && p.Grants != nil:
				l.add(at("grants"), "plugin "+p.Name+": "+err.Error())
			case errors.As(err, &ce):
				l.add(at("name"), "plugin "+p.Name+": "+err.Error())
			default:
				l.add(at("path"), "plugin "+p.Name+": "+err.Error())
			}
		}
		return nil, false
	}
	if name := wp.Info().Name; name != p.Name {
		l.add(at("name"), fmt.Sprintf("the module %s is the plugin %q: name the entry %q", p.Path, name, name))
		return nil, false
	}
	return wp, true
}

// flatten returns the errors err joins, or err.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// publishOnBus backs a wasm plugin's events capability with the host's
// event bus (the "events" plugin, which the wasm plugin then requires):
// each publish is an event of JSON data on its subject, as the events
// plugin's handlers receive them.
func publishOnBus(cfg *wasm.Config) {
	cfg.Requires = append(cfg.Requires, ply.Dependency{Name: "events"})
	addSetup(cfg, func(_ context.Context, s *ply.Setup, c *wasm.Config) error {
		bus, err := ply.Lookup(s, eventbus.Key)
		if err != nil {
			return err
		}
		topics := &topicCache{m: map[string]eventbus.Topic[json.RawMessage]{}}
		c.Publish = func(ctx context.Context, subject string, data []byte) error {
			if !json.Valid(data) {
				return fmt.Errorf("publish %s: the event is not JSON", subject)
			}
			t, err := topics.get(subject)
			if err != nil {
				return err
			}
			return eventbus.Publish(ctx, bus, t, json.RawMessage(data))
		}
		return nil
	})
}

// addSetup runs fn after cfg's Setup, if any.
func addSetup(cfg *wasm.Config, fn func(context.Context, *ply.Setup, *wasm.Config) error) {
	prev := cfg.Setup
	cfg.Setup = func(ctx context.Context, s *ply.Setup, c *wasm.Config) error {
		if prev != nil {
			if err := prev(ctx, s, c); err != nil {
				return err
			}
		}
		return fn(ctx, s, c)
	}
}

// storeOnBackbone backs a wasm plugin's kv capability with a JetStream
// key-value bucket of its own (namespace "wasm/<plugin>", and on a host
// with tenants "<tenant>/wasm/<plugin>" for each tenant's calls) when the
// host has the backbone; without one, the plugin's keys stay in memory.
func storeOnBackbone(cfg *wasm.Config) {
	cfg.Requires = append(cfg.Requires, ply.Dependency{Name: "backbone", Optional: true})
	addSetup(cfg, func(ctx context.Context, s *ply.Setup, c *wasm.Config) error {
		js, err := ply.Lookup(s, keys.JetStream)
		if errors.Is(err, ply.ErrNotRegistered) {
			return nil // no backbone: the default, in memory
		}
		if err != nil {
			return err
		}
		ns, err := kv.Namespace("wasm", s.Info().Name)
		if err != nil {
			return err
		}
		store, err := kv.New(ctx, js, ns)
		if err != nil {
			return err
		}
		tenants, err := kv.NewTenants(js, ns)
		if err != nil {
			return err
		}
		c.KV = jetstreamKV{own: store, tenants: tenants}
		return nil
	})
}

// jetstreamKV is a kv.Store as a wasm.KV: the plugin's own, or on a host
// with tenants the store of the calling tenant ("<tenant>/wasm/<plugin>").
type jetstreamKV struct {
	own     *kv.Store
	tenants *kv.Tenants
}

// store returns the store of ctx's call: its tenant's, else the plugin's.
func (k jetstreamKV) store(ctx context.Context) (*kv.Store, error) {
	s, err := k.tenants.Store(ctx)
	if errors.Is(err, kv.ErrNoTenant) {
		return k.own, nil
	}
	return s, err
}

func (k jetstreamKV) Get(ctx context.Context, key string) ([]byte, error) {
	s, err := k.store(ctx)
	if err != nil {
		return nil, err
	}
	e, err := s.Get(ctx, key)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", wasm.ErrNotFound, err)
	}
	return e.Value, err
}

func (k jetstreamKV) Put(ctx context.Context, key string, value []byte) error {
	s, err := k.store(ctx)
	if err != nil {
		return err
	}
	_, err = s.Put(ctx, key, value)
	return err
}

func (k jetstreamKV) Delete(ctx context.Context, key string) error {
	s, err := k.store(ctx)
	if err != nil {
		return err
	}
	return s.Delete(ctx, key)
}

// topicCache keeps the topics a plugin publishes to, up to maxTopics:
// a topic caches its route on the bus.
type topicCache struct {
	mu sync.Mutex
	m  map[string]eventbus.Topic[json.RawMessage]
}

const maxTopics = 256

func (c *topicCache) get(subject string) (t eventbus.Topic[json.RawMessage], err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.m[subject]; ok {
		return t, nil
	}
	defer func() {
		if v := recover(); v != nil { // NewTopic panics on a subject NATS refuses
			err = fmt.Errorf("publish %q: %v", subject, v)
		}
	}()
	t = eventbus.NewTopic[json.RawMessage](subject)
	if len(c.m) < maxTopics {
		c.m[subject] = t
	}
	return t, nil
}
