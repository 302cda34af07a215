// Package kv is key-value and object storage per namespace, on NATS
// JetStream: each namespace (a plugin, a tenant's plugin) has its own
// JetStream key-value bucket and its own object store.
//
// # Namespaces and buckets
//
// A namespace is any non-empty string; compose tenant and plugin with
// [Namespace] ("acme/cache"). [Bucket] maps it to the bucket name
// "ply_kv_" + its encoding, and [ObjectBucket] to "ply_obj_" + the same
// encoding. The encoding keeps the bytes a-z, 0-9 and '-' and writes every
// other byte (including '_' and upper-case letters) as '_' and two
// lower-case hex digits: "acme/Cache" is "acme_2f_43ache". It is injective
// (decoding it gives the namespace back), so two namespaces never share a
// bucket, and its output has no upper-case letters, so two buckets never
// share a directory on a case-insensitive file system. Namespaces whose
// bucket name would exceed [MaxBucketLen] are rejected with
// [ErrNamespace].
//
// # Isolation
//
// A [Store] reads and writes only its own bucket: it cannot name a key of
// another namespace, so one tenant's store never sees another's data.
//
// # Tenants
//
// On a multi-tenant host, [Tenants] gives a plugin one store per tenant,
// chosen by the call: [Tenants.Store] takes the call's context, reads its
// tenant ([ply.TenantOf]) and returns the store of namespace
// "<tenant>/<base>". No method takes a tenant's name, so an instance
// shared by many tenants reaches, for each call, only its tenant's keys.
//
// # Keys, revisions and TTL
//
// Keys are what JetStream allows: letters, digits and "-/_=.", not starting
// or ending with '.'. Every write returns the key's new revision;
// [Store.Update] writes only if the key is still at a given revision
// (compare-and-set). A key created with [Store.Create] and [WithTTL] expires
// on its own: buckets are created with per-message TTL enabled
// (LimitMarkerTTL), which needs nats-server 2.11 or later; [WithBucketTTL]
// expires every key instead.
//
// # Errors
//
// Match [ErrNotFound], [ErrExists], [ErrConflict], [ErrInvalidKey] and
// [ErrNamespace] with [errors.Is]; other errors come from JetStream.
package kv
