// Package registry is a plugin registry: publishers, plugins, versions,
// artifacts and reviews on SQLite (modernc.org/sqlite: pure Go, no cgo)
// and a directory of artifacts named by their sha256, served as a JSON API
// and server-rendered pages. ply registry serve runs one.
//
// # Publishing
//
// A publisher has a token and a registered minisign public key
// ([Server.AddPublisher]). An upload (POST /api/v1/publish, multipart:
// artifact, signature, readme) is checked in order of cost: size limits,
// the token, the signature against the publisher's key, then the module
// itself — its manifest read with [github.com/plykit/ply/wasm.Inspect],
// whose name and version must be the ones signed. The name and version
// come from the manifest, the file name from the hash: nothing of an
// upload names a path. A plugin belongs to the publisher of its first
// version; a version is never overwritten, only yanked (still served for
// the lockfiles that pin it, no longer picked by an install).
//
// # API
//
//	POST /api/v1/publish                          publish (Bearer token)
//	POST /api/v1/plugins/{name}/{version}/yank    yank (Bearer token)
//	GET  /api/v1/search?q=&limit=                 full-text search (FTS5)
//	GET  /api/v1/plugins/{name}                   a plugin, versions and reviews
//	POST /api/v1/plugins/{name}/reviews           review (Bearer token)
//	GET  /api/v1/artifacts/{sha256}               an artifact's bytes
//
// Errors are JSON ([market.ErrorBody]) with a status per sentinel:
// [ErrNotFound], [ErrExists], [ErrUnauthorized], [ErrForbidden],
// [ErrBadRequest], [ErrTooLarge], and 429 for a [*RateError].
//
// # Reviews
//
// Any account rates a plugin 1 to 5 with a text, at a version; one review
// per account per plugin (a second replaces the first), and one post per
// [Config.ReviewEvery] per account.
package registry
