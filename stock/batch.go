package stock

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/plykit/ply"
)

// BatchOptions configure the [Batching] plugin. The zero value batches for
// 2ms, at most 100 keys per fetch, without caching results.
type BatchOptions struct {
	// Wait is how long a batch collects keys before it is fetched.
	Wait time.Duration `json:"wait,omitempty" jsonschema:"minimum=0"`
	// MaxBatch caps the keys of one fetch.
	MaxBatch int `json:"maxBatch,omitempty" jsonschema:"minimum=0"`
	// Cache keeps each loader's results for the host's lifetime. Off by
	// default: loaders are shared by all calls, and a cache would serve
	// stale data across them.
	Cache bool `json:"cache,omitempty"`
}

// BatchingKey is the typed API of the "batch" plugin.
var BatchingKey = ply.NewKey[*Batching]("batch.batching")

// Batching is the "batch" plugin: it makes batch loaders
// (graph-gophers/dataloader) for other plugins, which coalesce the lookups
// that concurrent calls make within a short window into one fetch — the
// N+1 problem, solved once. Plugins get it with ply.Lookup(setup,
// BatchingKey) (declare "batch" in Requires) and create loaders with
// [Loader].
type Batching struct {
	opts    BatchOptions
	mu      sync.Mutex
	loaders map[string]bool
}

var (
	_ ply.Configurable = (*Batching)(nil)
	_ ply.Provisioner  = (*Batching)(nil)
)

// NewBatching returns the plugin with opts.
func NewBatching(opts BatchOptions) *Batching { return &Batching{opts: opts} }

// Info names the plugin "batch".
func (b *Batching) Info() ply.Info {
	return ply.Info{Name: "batch", Version: Version, Priority: ply.Business,
		Description: "batch loaders (dataloader) for other plugins, as a typed API"}
}

// Options returns the plugin's options for the host to fill and check.
func (b *Batching) Options() any { return &b.opts }

// Provision provides the plugin under [BatchingKey].
func (b *Batching) Provision(_ context.Context, s *ply.Setup) error {
	if b.opts.Wait == 0 {
		b.opts.Wait = 2 * time.Millisecond
	}
	if b.opts.MaxBatch == 0 {
		b.opts.MaxBatch = 100
	}
	b.loaders = make(map[string]bool)
	return ply.Provide(s, BatchingKey, b)
}

// Loader makes a batch loader named name (unique per host) whose fetch
// receives the keys of one batch and returns their values and errors, in
// the keys' order (errs may be nil; a length mismatch fails every key).
func Loader[K comparable, V any](b *Batching, name string, fetch func(ctx context.Context, keys []K) ([]V, []error)) (*dataloader.Loader[K, V], error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.loaders == nil {
		return nil, fmt.Errorf("batch: loader %s: the plugin is not provisioned (declare \"batch\" in Requires)", name)
	}
	if b.loaders[name] {
		return nil, fmt.Errorf("batch: loader %s: %w", name, ply.ErrDuplicate)
	}
	b.loaders[name] = true
	batch := func(ctx context.Context, keys []K) []*dataloader.Result[V] {
		vals, errs := fetch(ctx, keys)
		out := make([]*dataloader.Result[V], len(keys))
		for i := range keys {
			switch {
			case len(vals) != len(keys) || (errs != nil && len(errs) != len(keys)):
				out[i] = &dataloader.Result[V]{Error: fmt.Errorf("batch: loader %s: fetch returned %d values and %d errors for %d keys", name, len(vals), len(errs), len(keys))}
			case errs != nil && errs[i] != nil:
				out[i] = &dataloader.Result[V]{Error: errs[i]}
			default:
				out[i] = &dataloader.Result[V]{Data: vals[i]}
			}
		}
		return out
	}
	opts := []dataloader.Option[K, V]{dataloader.WithWait[K, V](b.opts.Wait), dataloader.WithBatchCapacity[K, V](b.opts.MaxBatch)}
	if !b.opts.Cache {
		opts = append(opts, dataloader.WithCache[K, V](&dataloader.NoCache[K, V]{}))
	}
	return dataloader.NewBatchedLoader(batch, opts...), nil
}
