// Package lock is the host's side of the marketplace: the lockfile
// (ply.lock) that pins each plugin a host runs to exact bytes, and the
// local, content-addressed cache those bytes live in.
//
// # Lockfile
//
// A [Lock] lists, for each plugin, its name and version, the sha256 of its
// artifact (a wasm module), the publisher's minisign signature and public
// key, and the source it came from. ply plugin install writes it ([Write]:
// sorted, atomic); ply run only reads it ([Read], [Parse]: strict, every
// field checked).
//
// # Offline first
//
// A host with a lockfile never contacts a registry: [Cache.Load] finds the
// artifact by its hash in the [Cache], checks the hash and then the
// signature ([Verify]), and refuses a mismatch with a [*VerifyError] that
// names the plugin ([ErrMissing], [ErrHash], [ErrSignature]). Signatures
// carry the trusted comment "ply NAME@VERSION" ([Comment]), so that a
// signed artifact cannot be passed off as another plugin or version.
package lock
