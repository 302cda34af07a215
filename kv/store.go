package kv

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/plykit/ply/internal/placement"
)

// limitMarkerTTL is how long a bucket keeps the marker a key leaves when
// its TTL removes it, so that watchers see the removal.
const limitMarkerTTL = time.Minute

// An Option configures the bucket of a [Store] or an [Objects].
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	ttl      time.Duration
	history  int
	replicas int
	maxBytes int64
	errs     []error
}

// WithBucketTTL expires every key (or object) this long after it was last
// written. Default: keys do not expire.
func WithBucketTTL(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d < 0 {
			c.errs = append(c.errs, fmt.Errorf("kv: WithBucketTTL(%v): must be >= 0", d))
			return
		}
		c.ttl = d
	})
}

// WithHistory keeps the last n values of each key, 1 to 64. Default: 1.
// Key-value stores only.
func WithHistory(n int) Option {
	return optionFunc(func(c *config) {
		if n < 1 || n > 64 {
			c.errs = append(c.errs, fmt.Errorf("kv: WithHistory(%d): must be 1 to 64", n))
			return
		}
		c.history = n
	})
}

// WithReplicas stores the bucket on n servers of a cluster, 1 to 5.
// Default: 1.
func WithReplicas(n int) Option {
	return optionFunc(func(c *config) {
		if n < 1 || n > 5 {
			c.errs = append(c.errs, fmt.Errorf("kv: WithReplicas(%d): must be 1 to 5", n))
			return
		}
		c.replicas = n
	})
}

// WithMaxBytes limits the bucket's size in bytes. Default: no limit.
func WithMaxBytes(n int64) Option {
	return optionFunc(func(c *config) {
		if n <= 0 {
			c.errs = append(c.errs, fmt.Errorf("kv: WithMaxBytes(%d): must be > 0", n))
			return
		}
		c.maxBytes = n
	})
}

func newConfig(opts []Option) (config, error) {
	c := config{history: 1, replicas: 1}
	for _, o := range opts {
		if o == nil {
			c.errs = append(c.errs, errors.New("kv: nil Option"))
			continue
		}
		o.apply(&c)
	}
	return c, errors.Join(c.errs...)
}

// Store is the key-value store of one namespace. It is safe for
// concurrent use.
type Store struct {
	ns, bucket string
	kv         jetstream.KeyValue
}

// New opens the store of namespace, creating its bucket if needed, or
// updating its configuration to opts. Like jobqueue.New, it waits up to 15
// seconds, within ctx, for a cluster that cannot place a replicated bucket
// yet. Errors match [ErrNamespace] for a bad namespace; a bad option is an
// error too.
func New(ctx context.Context, js jetstream.JetStream, namespace string, opts ...Option) (*Store, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	name, err := Bucket(namespace)
	if err != nil {
		return nil, err
	}
	b, err := placement.Create(ctx, func(ctx context.Context) (jetstream.KeyValue, error) {
		return js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:         name,
			Description:    "ply namespace " + namespace,
			History:        uint8(c.history), //nolint:gosec // 1 to 64, checked by WithHistory
			TTL:            c.ttl,
			MaxBytes:       cmp.Or(c.maxBytes, -1),
			Replicas:       c.replicas,
			LimitMarkerTTL: limitMarkerTTL,
			Metadata:       map[string]string{"ply.namespace": namespace},
		})
	})
	if err != nil {
		return nil, fmt.Errorf("kv %s: bucket %s: %w", namespace, name, err)
	}
	return &Store{ns: namespace, bucket: name, kv: b}, nil
}

// Namespace returns the store's namespace.
func (s *Store) Namespace() string { return s.ns }

// Bucket returns the name of the store's JetStream bucket.
func (s *Store) Bucket() string { return s.bucket }

// Entry is a key's value at one revision.
type Entry struct {
	Key      string
	Value    []byte
	Revision uint64
	Created  time.Time // when this revision was written
}

// Get returns the current value of key. Errors match [ErrNotFound] when the
// key was never set, was deleted or expired, and [ErrInvalidKey].
func (s *Store) Get(ctx context.Context, key string) (Entry, error) {
	e, err := s.kv.Get(ctx, key)
	if err != nil {
		return Entry{}, s.err("get", key, err)
	}
	return Entry{Key: e.Key(), Value: e.Value(), Revision: e.Revision(), Created: e.Created()}, nil
}

// Put sets key to value and returns the new revision.
func (s *Store) Put(ctx context.Context, key string, value []byte) (uint64, error) {
	rev, err := s.kv.Put(ctx, key, value)
	if err != nil {
		return 0, s.err("put", key, err)
	}
	return rev, nil
}

// A WriteOption configures [Store.Create].
type WriteOption interface{ applyWrite(*writeConfig) }

type writeFunc func(*writeConfig)

func (f writeFunc) applyWrite(c *writeConfig) { f(c) }

type writeConfig struct{ ttl time.Duration }

// WithTTL makes the key expire d after it was created (at least 1s). The
// server must support per-message TTL (nats-server 2.11 or later).
func WithTTL(d time.Duration) WriteOption { return writeFunc(func(c *writeConfig) { c.ttl = d }) }

// Create sets key to value only if the key has no value (it was never set,
// or was deleted), and returns the new revision. Errors match [ErrExists]
// when the key has a value, and [ErrInvalidKey].
func (s *Store) Create(ctx context.Context, key string, value []byte, opts ...WriteOption) (uint64, error) {
	var c writeConfig
	for _, o := range opts {
		if o != nil {
			o.applyWrite(&c)
		}
	}
	var jopts []jetstream.KVCreateOpt
	if c.ttl != 0 {
		if c.ttl < time.Second {
			return 0, fmt.Errorf("kv %s: create %s: WithTTL(%v): must be >= 1s", s.ns, key, c.ttl)
		}
		jopts = append(jopts, jetstream.KeyTTL(c.ttl))
	}
	rev, err := s.kv.Create(ctx, key, value, jopts...)
	if err != nil {
		return 0, s.err("create", key, err)
	}
	return rev, nil
}

// Update sets key to value only if its current revision is revision
// (compare-and-set), and returns the new revision. Errors match
// [ErrConflict] when the key is at another revision, and [ErrInvalidKey].
func (s *Store) Update(ctx context.Context, key string, value []byte, revision uint64) (uint64, error) {
	rev, err := s.kv.Update(ctx, key, value, revision)
	if err != nil {
		return 0, s.err("update", key, err)
	}
	return rev, nil
}

// Delete removes key. Deleting a key that has no value is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.kv.Delete(ctx, key); err != nil {
		return s.err("delete", key, err)
	}
	return nil
}

// Keys returns the keys that have a value, sorted.
func (s *Store) Keys(ctx context.Context) ([]string, error) {
	keys, err := s.kv.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return []string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("kv %s: keys: %w", s.ns, err)
	}
	slices.Sort(keys)
	return keys, nil
}

// err maps JetStream's errors to the package's sentinels.
func (s *Store) err(op, key string, err error) error {
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		err = ErrNotFound
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		err = ErrConflict
	case errors.Is(err, jetstream.ErrKeyExists):
		if op == "create" {
			err = ErrExists
		} else {
			err = ErrConflict
		}
	case errors.Is(err, jetstream.ErrInvalidKey):
		err = ErrInvalidKey
	}
	return fmt.Errorf("kv %s: %s %s: %w", s.ns, op, key, err)
}
