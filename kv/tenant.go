package kv

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plykit/ply"
)

// ErrNoTenant is returned by [Tenants.Store] and [Tenants.Objects] for a
// context that belongs to no tenant's call: outside a call, or on a host
// without tenants.
var ErrNoTenant = errors.New("kv: the context belongs to no tenant's call")

// Tenants gives a plugin on a multi-tenant host a store per tenant, chosen
// by the call: [Tenants.Store] returns the store of the tenant whose call
// ctx belongs to ([ply.TenantOf]), namespace "<tenant>/<base>". No method
// takes a tenant's name, so a plugin instance that many tenants share,
// serving tenant A's call, reaches only A's keys. Stores are opened on
// first use and kept. A Tenants is safe for concurrent use.
type Tenants struct {
	js   jetstream.JetStream
	base string
	opts []Option

	mu      sync.Mutex
	stores  map[string]*Store
	objects map[string]*Objects
}

// NewTenants returns the per-tenant stores of namespace base ("cache", or
// "gateway/visits"), each opened with opts. It returns an error matching
// [ErrNamespace] for an empty base.
func NewTenants(js jetstream.JetStream, base string, opts ...Option) (*Tenants, error) {
	if base == "" {
		return nil, fmt.Errorf("empty base namespace: %w", ErrNamespace)
	}
	if _, err := newConfig(opts); err != nil {
		return nil, err
	}
	return &Tenants{js: js, base: base, opts: opts, stores: make(map[string]*Store), objects: make(map[string]*Objects)}, nil
}

// namespace returns the namespace of the tenant of ctx's call.
func (t *Tenants) namespace(ctx context.Context) (tenant, ns string, err error) {
	tenant, ok := ply.TenantOf(ctx)
	if !ok {
		return "", "", ErrNoTenant
	}
	prefix, err := Namespace(tenant) // the tenant named "" has no store: no part can stand for it that another tenant's name cannot
	if err != nil {
		return "", "", fmt.Errorf("tenant %q: %w", tenant, err)
	}
	return tenant, prefix + "/" + t.base, nil
}

// Store returns the key-value store of the tenant of ctx's call, opening
// it on first use. Errors match [ErrNoTenant], [ErrNamespace] (a tenant
// name with '/', or too long a namespace) or come from JetStream.
func (t *Tenants) Store(ctx context.Context) (*Store, error) {
	tenant, ns, err := t.namespace(ctx)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.stores[tenant]; s != nil {
		return s, nil
	}
	s, err := New(ctx, t.js, ns, t.opts...)
	if err != nil {
		return nil, err
	}
	t.stores[tenant] = s
	return s, nil
}

// Objects returns the object store of the tenant of ctx's call, opening
// it on first use. Its errors are [Tenants.Store]'s.
func (t *Tenants) Objects(ctx context.Context) (*Objects, error) {
	tenant, ns, err := t.namespace(ctx)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if o := t.objects[tenant]; o != nil {
		return o, nil
	}
	o, err := NewObjects(ctx, t.js, ns, t.opts...)
	if err != nil {
		return nil, err
	}
	t.objects[tenant] = o
	return o, nil
}
