package kv

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/plykit/ply/internal/placement"
)

// Objects is the object store of one namespace: named blobs of any size
// (plugin artifacts, uploads), stored in chunks and checked against their
// SHA-256 digest when read. It is safe for concurrent use.
type Objects struct {
	ns, bucket string
	os         jetstream.ObjectStore
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Name     string
	Size     uint64
	Modified time.Time
	// SHA256 is the hex-encoded SHA-256 digest of the content.
	SHA256 string
}

// NewObjects opens the object store of namespace, creating its bucket if
// needed, or updating its configuration to opts ([WithHistory] does not
// apply). It waits for a settling cluster as [New] does. Errors match
// [ErrNamespace] for a bad namespace.
func NewObjects(ctx context.Context, js jetstream.JetStream, namespace string, opts ...Option) (*Objects, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	name, err := ObjectBucket(namespace)
	if err != nil {
		return nil, err
	}
	b, err := placement.Create(ctx, func(ctx context.Context) (jetstream.ObjectStore, error) {
		return js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:      name,
			Description: "ply namespace " + namespace,
			TTL:         c.ttl,
			MaxBytes:    cmp.Or(c.maxBytes, -1),
			Replicas:    c.replicas,
			Metadata:    map[string]string{"ply.namespace": namespace},
		})
	})
	if err != nil {
		return nil, fmt.Errorf("objects %s: bucket %s: %w", namespace, name, err)
	}
	return &Objects{ns: namespace, bucket: name, os: b}, nil
}

// Namespace returns the store's namespace.
func (o *Objects) Namespace() string { return o.ns }

// Bucket returns the name of the store's JetStream object store.
func (o *Objects) Bucket() string { return o.bucket }

// Put stores the content read from r (to EOF) under name, replacing any
// object of that name, and returns its info.
func (o *Objects) Put(ctx context.Context, name string, r io.Reader) (ObjectInfo, error) {
	info, err := o.os.Put(ctx, jetstream.ObjectMeta{Name: name}, r)
	if err != nil {
		return ObjectInfo{}, o.err("put", name, err)
	}
	return objectInfo(info)
}

// Get opens the object name for reading. The caller must close the
// reader; reading to EOF checks the content against its digest and fails
// if they differ. Errors match [ErrNotFound].
func (o *Objects) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	r, err := o.os.Get(ctx, name)
	if err != nil {
		return nil, o.err("get", name, err)
	}
	return r, nil
}

// Info returns the info of the object name. Errors match [ErrNotFound].
func (o *Objects) Info(ctx context.Context, name string) (ObjectInfo, error) {
	info, err := o.os.GetInfo(ctx, name)
	if err != nil {
		return ObjectInfo{}, o.err("info", name, err)
	}
	return objectInfo(info)
}

// Delete removes the object name. Errors match [ErrNotFound].
func (o *Objects) Delete(ctx context.Context, name string) error {
	if err := o.os.Delete(ctx, name); err != nil {
		return o.err("delete", name, err)
	}
	return nil
}

// List returns the info of every object, sorted by name.
func (o *Objects) List(ctx context.Context) ([]ObjectInfo, error) {
	infos, err := o.os.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return []ObjectInfo{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("objects %s: list: %w", o.ns, err)
	}
	out := make([]ObjectInfo, 0, len(infos))
	for _, in := range infos {
		oi, err := objectInfo(in)
		if err != nil {
			return nil, fmt.Errorf("objects %s: list: %w", o.ns, err)
		}
		out = append(out, oi)
	}
	slices.SortFunc(out, func(a, b ObjectInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (o *Objects) err(op, name string, err error) error {
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		err = ErrNotFound
	}
	return fmt.Errorf("objects %s: %s %s: %w", o.ns, op, name, err)
}

// objectInfo converts JetStream's info, whose digest is
// "SHA-256=<base64url>".
func objectInfo(in *jetstream.ObjectInfo) (ObjectInfo, error) {
	const prefix = "SHA-256="
	d, ok := strings.CutPrefix(in.Digest, prefix)
	if !ok {
		return ObjectInfo{}, fmt.Errorf("object %s: digest %q: not SHA-256", in.Name, in.Digest)
	}
	sum, err := base64.URLEncoding.DecodeString(d)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("object %s: digest %q: %w", in.Name, in.Digest, err)
	}
	return ObjectInfo{Name: in.Name, Size: in.Size, Modified: in.ModTime, SHA256: hex.EncodeToString(sum)}, nil
}
