package discover_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/plykit/ply/market/discover"
	"github.com/plykit/ply/market/internal/markettest"
	"github.com/plykit/ply/market/lock"
	"github.com/plykit/ply/market/registry"
	"github.com/plykit/ply/market/resolve"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Three sources, in order of trust: a directory, a registry and a cache.
// The merged list has one row per name and version, newest first, with
// every source that offers it; a module that is not one is reported,
// naming its file, and the rest is still listed.
func TestMerge(t *testing.T) {
	reg := markettest.StartRegistry(t, registry.Config{})
	mods := markettest.Build(t, "tagger", "tagger2", "greeter", "tagger11")
	reg.Publish(t, "tagger", "1.0.0", mods["tagger"])
	reg.Publish(t, "tagger", "2.0.0", mods["tagger2"])
	reg.Publish(t, "greeter", "1.0.0", mods["greeter"])
	cache := lock.Cache{Dir: t.TempDir()}
	if _, err := reg.Client().Install(t.Context(), &lock.Lock{}, cache, []resolve.Requirement{{Name: "greeter"}}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, data := range map[string][]byte{"greeter.wasm": mods["greeter"], "tagger-1.1.wasm": mods["tagger11"], "broken.wasm": []byte("\x00asm"), "notes.txt": []byte("x")} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sources := []discover.Source{{Dir: dir}, {Registry: reg.URL}, {Cache: cache.Dir}}
	found, errs := discover.Scan(t.Context(), sources, filepath.Join(os.TempDir(), "ply-market-test-cache"), reg.HTTP.Client())
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), filepath.Join(dir, "broken.wasm")) {
		t.Errorf("Scan() errors = %v, want one naming broken.wasm", errs)
	}
	var got []string
	for _, a := range discover.Merge(sources, found) {
		var from []string
		for _, s := range a.From {
			from = append(from, strings.Fields(s.String())[0])
		}
		got = append(got, fmt.Sprintf("%s@%s %s", a.Name, a.Version, strings.Join(from, ",")))
	}
	want := []string{"greeter@1.0.0 dir,registry,cache", "tagger@2.0.0 registry", "tagger@1.1.0 dir", "tagger@1.0.0 registry,cache"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Merge() (-want +got):\n%s", diff)
	}
	m, ok, _ := discover.Find(t.Context(), dir, "tagger", "")
	if !ok || m.Version != "1.1.0" || m.Path != filepath.Join(dir, "tagger-1.1.wasm") {
		t.Errorf("Find(tagger) = %+v, %v", m, ok)
	}
}
