package lock

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// MaxArtifact is the largest artifact the cache reads: 64 MiB, as a wasm
// module.
const MaxArtifact = 64 << 20

// Cache is a directory of artifacts named by their sha256
// (DIR/sha256/HEX.wasm): content-addressed, so an artifact is written once
// and a name never points at other bytes than it did. It is safe for
// concurrent use by several processes: files are written to a temporary
// name and renamed.
type Cache struct {
	Dir string
}

// DefaultCache returns the cache under the user's cache directory
// (os.UserCacheDir()/ply/artifacts), or under the temporary directory when
// there is none.
func DefaultCache() Cache {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return Cache{Dir: filepath.Join(base, "ply", "artifacts")}
}

// Path returns where the artifact of sha256 hex digest sum lives. sum must
// be a valid digest (see [Entry]); Path does not check it.
func (c Cache) Path(sum string) string {
	return filepath.Join(c.Dir, "sha256", sum+".wasm")
}

// Put stores artifact and returns its sha256. Putting the same bytes again
// is a no-op.
func (c Cache) Put(artifact []byte) (string, error) {
	sum := Hash(artifact)
	path := c.Path(sum)
	if _, err := os.Stat(path); err == nil {
		return sum, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return "", err
	}
	return sum, writeAtomic(path, artifact, 0o644)
}

// Has reports whether the artifact of sum is in the cache.
func (c Cache) Has(sum string) bool {
	_, err := os.Stat(c.Path(sum))
	return err == nil
}

// Read returns the cached bytes of e's artifact, verified against e (see
// [Verify]). A missing artifact is a [*VerifyError] wrapping [ErrMissing].
func (c Cache) Read(e Entry) ([]byte, error) {
	data, err := readLimited(c.Path(e.SHA256), MaxArtifact)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &VerifyError{Plugin: e.Name, Version: e.Version,
			Err: fmt.Errorf("%w (%s): run ply plugin install to fetch it", ErrMissing, c.Path(e.SHA256))}
	}
	if err != nil {
		return nil, &VerifyError{Plugin: e.Name, Version: e.Version, Err: err}
	}
	if err := Verify(e, data); err != nil {
		return nil, err
	}
	return data, nil
}

// Load verifies e's cached artifact and returns its path, for a host to
// open. It never contacts a registry. Errors as [Cache.Read].
func (c Cache) Load(e Entry) (string, error) {
	if _, err := c.Read(e); err != nil {
		return "", err
	}
	return c.Path(e.SHA256), nil
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path) //nolint:gosec // a path inside the cache, made from a checked hex digest
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read-only
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: over the limit of %d bytes", path, limit)
	}
	return data, nil
}
