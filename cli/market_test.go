package cli_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/plykit/ply/cli"
	"github.com/plykit/ply/internal/wasmtest"
	"github.com/plykit/ply/market/lock"
)

// startRegistry runs ply registry serve on 127.0.0.1 and returns its URL
// and a function that stops it.
func startRegistry(t *testing.T, dir string) (string, func()) {
	t.Helper()
	cmd := cli.New()
	pr, pw := io.Pipe()
	out := &lines{want: "registry serving on ", seen: make(chan string, 1)}
	read := make(chan struct{})
	go func() {
		defer close(read)
		out.read(pr)
	}()
	cmd.SetOut(pw)
	cmd.SetErr(io.Discard)
	cmd.SetArgs([]string{"registry", "serve", "--dir", dir, "--addr", "127.0.0.1:0"})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("ply registry serve: %v", err)
			}
			_ = pw.Close()
			<-read
		})
	}
	t.Cleanup(stop)
	select {
	case url := <-out.seen:
		return url, stop
	case err := <-done:
		_ = pw.Close()
		<-read
		t.Fatalf("ply registry serve returned before serving: %v; output:\n%s", err, out)
		return "", nil
	}
}

// must runs a ply command and fails the test if it fails.
func must(t *testing.T, args ...string) string {
	t.Helper()
	out, err := run(t, args...)
	if err != nil {
		t.Fatalf("ply %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// The marketplace from end to end, with the commands a user types: a
// registry on 127.0.0.1, two signed plugins published (greeter requires
// tagger), installed into a host's lockfile, and the host run with the
// registry stopped, a route going through both; then a tampered artifact,
// a wrong key and a conflicting constraint, each refused with a message
// naming the plugin.
func TestMarketplaceEndToEnd(t *testing.T) {
	modules := map[string]string{}
	for _, g := range []string{"tagger", "tagger2", "greeter"} {
		path, err := wasmtest.Build(filepath.Join("..", "market", "testdata", g))
		if err != nil {
			t.Fatal(err)
		}
		modules[g] = path
	}
	dir := t.TempDir()
	at := func(name string) string { return filepath.Join(dir, name) }
	regDir, lockPath, cacheDir := at("registry"), at("ply.lock"), at("cache")

	must(t, "plugin", "keygen", "--out", at("acme"))
	token := strings.TrimSpace(must(t, "registry", "publisher", "acme", "--key", at("acme.pub"), "--dir", regDir))
	url, stopRegistry := startRegistry(t, regDir)
	if got := get(t, url+"/healthz", nil); got == "" { // the registry is a ply host, with its health endpoint
		t.Errorf("GET /healthz on the registry = %q", got)
	}
	market := []string{"--registry", url, "--token", token, "--lock", lockPath, "--cache", cacheDir}
	for _, g := range []string{"tagger", "greeter"} {
		out := must(t, append([]string{"plugin", "publish", modules[g], "--key", at("acme.key")}, market...)...)
		if !strings.HasPrefix(out, "published "+g+"@1.0.0 sha256 ") {
			t.Errorf("publish %s: %q", g, out)
		}
	}
	if out := must(t, append([]string{"plugin", "search", "greet"}, market...)...); !strings.Contains(out, "greeter  1.0.0") {
		t.Errorf("search greet:\n%s", out)
	}
	if out := must(t, append([]string{"plugin", "install", "greeter"}, market...)...); out != "+ greeter@1.0.0\n+ tagger@1.0.0\nwrote "+lockPath+"\n" {
		t.Errorf("install greeter:\n%s", out)
	}

	// Discovery: a directory, the registry and the cache, merged.
	drop := at("plugins")
	if err := os.MkdirAll(drop, 0o750); err != nil {
		t.Fatal(err)
	}
	greeter, err := os.ReadFile(modules["greeter"])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(drop, "greeter.wasm"), greeter, 0o600); err != nil { //nolint:gosec // G703: the test's own directory
		t.Fatal(err)
	}
	listed := must(t, append([]string{"plugin", "list", "--available", "--dir", drop}, market...)...)
	for _, want := range []string{"greeter  1.0.0    1    dir " + drop + ", registry " + url + ", cache " + cacheDir,
		"tagger   1.0.0    1    registry " + url + ", cache " + cacheDir} {
		if !strings.Contains(listed, want) {
			t.Errorf("list --available lacks %q:\n%s", want, listed)
		}
	}

	// Refused by the registry: a module signed by a key not registered for
	// the publisher.
	must(t, "plugin", "keygen", "--out", at("mallory"))
	out, err := run(t, append([]string{"plugin", "publish", modules["tagger2"], "--key", at("mallory.key")}, market...)...)
	if err == nil || !strings.Contains(err.Error(), "plugin tagger@2.0.0: bad signature: signed by key") {
		t.Errorf("publish with the wrong key: %v\n%s", err, out)
	}
	// A conflicting constraint: greeter requires tagger ^1.
	must(t, append([]string{"plugin", "publish", modules["tagger2"], "--key", at("acme.key")}, market...)...)
	out, err = run(t, append([]string{"plugin", "install", "greeter", "tagger@^2"}, market...)...)
	if err == nil || !strings.Contains(err.Error(), "because greeter 1.0.0 requires tagger ^1") ||
		!strings.Contains(err.Error(), "1.0.0 (excluded because you require tagger ^2)") {
		t.Errorf("install of a conflicting constraint: %v\n%s", err, out)
	}

	stopRegistry()
	if resp, err := http.Get(url + "/api/v1/search"); err == nil { //nolint:noctx // a probe that must fail
		_ = resp.Body.Close()
		t.Fatalf("the registry still answers after it stopped")
	}
	if out := must(t, "plugin", "verify", "--lock", lockPath, "--cache", cacheDir); !strings.Contains(out, "ok greeter@1.0.0") {
		t.Errorf("verify:\n%s", out)
	}
	host := "lock: " + lockPath + "\ncache: " + cacheDir + `
listen: 127.0.0.1:0
plugins:
  - name: tagger
    runtime: wasm
  - name: greeter
    runtime: wasm
modules:
  - name: site
    routes:
      - route: GET /hello
        static: {text: "not reached: greeter answers"}
`
	base, stop := startRun(t, host)
	if got := get(t, base+"/hello", nil); got != "hello from greeter, tagged by tagger@1.0.0\n" {
		t.Errorf("GET /hello = %q, want greeter's answer with tagger's tag", got)
	}
	stop()

	// Refused by the host: a locked artifact changed in the cache, and a
	// lockfile entry whose key did not sign the artifact.
	file := filepath.Join(t.TempDir(), "ply.yaml")
	if err := os.WriteFile(file, []byte(host), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := lock.Read(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	tagger, _ := l.Find("tagger")
	cache := lock.Cache{Dir: cacheDir}
	original, err := os.ReadFile(cache.Path(tagger.SHA256))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cache.Path(tagger.SHA256), append(bytes.Clone(original), 0), 0o600); err != nil { //nolint:gosec // G703: the test's own cache
		t.Fatal(err)
	}
	out, err = run(t, "run", "--quiet", file)
	if err == nil || !strings.Contains(err.Error(), "plugin tagger@1.0.0: artifact does not match its sha256") {
		t.Errorf("run with a tampered artifact: %v\n%s", err, out)
	}
	if err := os.WriteFile(cache.Path(tagger.SHA256), original, 0o600); err != nil { //nolint:gosec // G703: the test's own cache
		t.Fatal(err)
	}
	mallory, err := os.ReadFile(at("mallory.pub"))
	if err != nil {
		t.Fatal(err)
	}
	tagger.Key = strings.Fields(string(mallory))[len(strings.Fields(string(mallory)))-1]
	l.Set(tagger)
	if err := os.WriteFile(lockPath, l.Marshal(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, "run", "--quiet", file)
	if err == nil || !strings.Contains(err.Error(), "plugin tagger") || !strings.Contains(err.Error(), "signature") {
		t.Errorf("run with a wrong key in the lockfile: %v\n%s", err, out)
	}
}
