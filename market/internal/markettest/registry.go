package markettest

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/plykit/ply/market/client"
	"github.com/plykit/ply/market/lock"
	"github.com/plykit/ply/market/registry"
)

// Registry is a registry served on 127.0.0.1 with one publisher, "acme".
type Registry struct {
	Server *registry.Server
	HTTP   *httptest.Server
	URL    string
	Dir    string // the registry's data directory
	Token  string // acme's
	Key    Key    // acme's
}

// StartRegistry opens a registry in a temporary directory and serves it;
// the test's cleanup stops it. cfg.Dir is set; cfg.CacheDir defaults to a
// compilation cache shared by the tests.
func StartRegistry(t testing.TB, cfg registry.Config) *Registry {
	t.Helper()
	cfg.Dir = t.TempDir()
	if cfg.CacheDir == "" {
		cfg.CacheDir = filepath.Join(os.TempDir(), "ply-market-test-cache")
	}
	srv, err := registry.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); _ = srv.Close() })
	key := NewKey(t)
	token, err := srv.AddPublisher(t.Context(), "acme", key.Public.String())
	if err != nil {
		t.Fatal(err)
	}
	return &Registry{Server: srv, HTTP: ts, URL: ts.URL, Dir: cfg.Dir, Token: token, Key: key}
}

// Client returns a client of the registry with acme's token.
func (r *Registry) Client() *client.Client {
	return &client.Client{URL: r.URL, Token: r.Token, HTTP: r.HTTP.Client()}
}

// Publish signs artifact as name@version with acme's key and publishes
// it, failing the test if the registry refuses.
func (r *Registry) Publish(t testing.TB, name, version string, artifact []byte) {
	t.Helper()
	sig := lock.Sign(r.Key.Private, name, version, artifact)
	if _, err := r.Client().Publish(t.Context(), artifact, []byte(sig), []byte("# "+name+"\n")); err != nil {
		t.Fatalf("publish %s@%s: %v", name, version, err)
	}
}

// ArtifactPath returns where the registry stores the artifact of sum.
func (r *Registry) ArtifactPath(sum string) string {
	return lock.Cache{Dir: filepath.Join(r.Dir, "artifacts")}.Path(sum)
}
