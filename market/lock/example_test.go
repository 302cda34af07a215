package lock_test

import (
	"crypto/rand"
	"fmt"
	"os"

	"aead.dev/minisign"

	"github.com/plykit/ply/market/lock"
)

// A host loads a locked artifact from the cache: hash and signature are
// checked, and a changed byte is refused, naming the plugin.
func ExampleCache_Load() {
	pub, priv, _ := minisign.GenerateKey(rand.Reader)
	dir, _ := os.MkdirTemp("", "ply-cache")
	defer func() { _ = os.RemoveAll(dir) }()
	cache := lock.Cache{Dir: dir}

	artifact := []byte("a wasm module")
	sum, _ := cache.Put(artifact)
	entry := lock.Entry{Name: "greet", Version: "1.0.0", SHA256: sum, Key: pub.String(),
		Signature: lock.Sign(priv, "greet", "1.0.0", artifact)}
	if _, err := cache.Load(entry); err == nil {
		fmt.Println("greet verified")
	}

	_ = os.WriteFile(cache.Path(sum), []byte("a wasm module, changed"), 0o600)
	_, err := cache.Load(entry)
	fmt.Println(err != nil)
	// Output:
	// greet verified
	// true
}
