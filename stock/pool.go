package stock

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/puddle/v2"

	"github.com/plykit/ply"
)

// PoolOptions configure the [Pools] plugin.
type PoolOptions struct {
	// MaxSize is the default size of a pool. Default 10.
	MaxSize int32 `json:"maxSize,omitempty" jsonschema:"minimum=0"`
}

// PoolsKey is the typed API of the "pool" plugin.
var PoolsKey = ply.NewKey[*Pools]("pool.pools")

// Pools is the "pool" plugin: it makes resource pools (jackc/puddle) for
// other plugins — connections, clients, workers — owned by the host: Stop
// closes every pool (destroying its resources once they are released), and
// Health reports a pool whose every resource is in use as degraded. Plugins
// get it with ply.Lookup(setup, PoolsKey) and create pools with [Pool].
type Pools struct {
	opts   PoolOptions
	mu     sync.Mutex
	pools  map[string]pooled
	closed bool
}

// pooled is the part of a *puddle.Pool[T] the plugin needs, for any T.
type pooled interface {
	Close()
	Stat() *puddle.Stat
}

var (
	_ ply.Configurable  = (*Pools)(nil)
	_ ply.Provisioner   = (*Pools)(nil)
	_ ply.Stopper       = (*Pools)(nil)
	_ ply.HealthChecker = (*Pools)(nil)
)

// NewPools returns the plugin with opts.
func NewPools(opts PoolOptions) *Pools { return &Pools{opts: opts} }

// Info names the plugin "pool".
func (p *Pools) Info() ply.Info {
	return ply.Info{Name: "pool", Version: Version, Priority: ply.Business,
		Description: "resource pools (puddle) for other plugins, as a typed API"}
}

// Options returns the plugin's options for the host to fill and check.
func (p *Pools) Options() any { return &p.opts }

// Provision provides the plugin under [PoolsKey].
func (p *Pools) Provision(_ context.Context, s *ply.Setup) error {
	if p.opts.MaxSize == 0 {
		p.opts.MaxSize = 10
	}
	p.pools = make(map[string]pooled)
	return ply.Provide(s, PoolsKey, p)
}

// Pool makes a pool named name (unique per host) of at most maxSize
// resources (0: the plugin's MaxSize), created by create and destroyed by
// destroy (which may be nil).
func Pool[T any](p *Pools, name string, maxSize int32, create func(ctx context.Context) (T, error), destroy func(T)) (*puddle.Pool[T], error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.pools == nil:
		return nil, fmt.Errorf("pool: %s: the plugin is not provisioned (declare \"pool\" in Requires)", name)
	case p.closed:
		return nil, fmt.Errorf("pool: %s: the plugin stopped", name)
	case p.pools[name] != nil:
		return nil, fmt.Errorf("pool: %s: %w", name, ply.ErrDuplicate)
	}
	if maxSize <= 0 {
		maxSize = p.opts.MaxSize
	}
	if destroy == nil {
		destroy = func(T) {}
	}
	pool, err := puddle.NewPool(&puddle.Config[T]{Constructor: create, Destructor: destroy, MaxSize: maxSize})
	if err != nil {
		return nil, fmt.Errorf("pool: %s: %w", name, err)
	}
	p.pools[name] = pool
	return pool, nil
}

// Stop closes every pool: each waits until its acquired resources are
// released, then destroys them. It returns when all are closed or ctx is
// done.
func (p *Pools) Stop(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	pools := make([]pooled, 0, len(p.pools))
	for _, pool := range p.pools {
		pools = append(pools, pool)
	}
	p.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, pool := range pools {
			pool.Close()
		}
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("pool: resources still in use: %w", ctx.Err())
	}
}

// Health is degraded while a pool has every resource in use.
func (p *Pools) Health(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for name, pool := range p.pools {
		if st := pool.Stat(); st.MaxResources() > 0 && st.AcquiredResources() == st.MaxResources() {
			errs = append(errs, fmt.Errorf("pool %s: all %d resources in use: %w", name, st.MaxResources(), ply.ErrDegraded))
		}
	}
	return errors.Join(errs...)
}
