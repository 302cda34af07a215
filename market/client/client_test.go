package client_test

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply/market/client"
	"github.com/plykit/ply/market/internal/markettest"
	"github.com/plykit/ply/market/lock"
	"github.com/plykit/ply/market/registry"
	"github.com/plykit/ply/market/resolve"
)

// published is a registry with tagger 1.0.0 and 2.0.0 and greeter 1.0.0
// (requires tagger ^1).
func published(t *testing.T) (*markettest.Registry, map[string][]byte) {
	t.Helper()
	reg := markettest.StartRegistry(t, registry.Config{})
	mods := markettest.Modules(t)
	reg.Publish(t, "tagger", "1.0.0", mods["tagger"])
	reg.Publish(t, "tagger", "2.0.0", mods["tagger2"])
	reg.Publish(t, "greeter", "1.0.0", mods["greeter"])
	return reg, mods
}

func changes(cs []client.Change) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.String())
	}
	return out
}

func TestInstall(t *testing.T) {
	reg, mods := published(t)
	c := reg.Client()
	cache := lock.Cache{Dir: t.TempDir()}
	l := &lock.Lock{}
	got, err := c.Install(t.Context(), l, cache, []resolve.Requirement{{Name: "greeter"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"+ greeter@1.0.0", "+ tagger@1.0.0"}, changes(got)); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	g, _ := l.Find("greeter")
	want := lock.Entry{Name: "greeter", Version: "1.0.0", SHA256: lock.Hash(mods["greeter"]), Key: reg.Key.Public.String(),
		Signature: g.Signature, Source: reg.URL, Requires: []lock.Dependency{{Name: "tagger", Constraint: "^1"}}}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("greeter's entry (-want +got):\n%s", diff)
	}
	if errs := client.Verify(l, cache); len(errs) > 0 {
		t.Errorf("Verify() = %v", errs)
	}
	// The lockfile round-trips and the cache serves it with the registry gone.
	reg.HTTP.Close()
	again, err := lock.Parse(l.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range again.Plugins {
		if _, err := cache.Load(e); err != nil {
			t.Errorf("Load(%s) with the registry stopped: %v", e.ID(), err)
		}
	}
}

func TestInstallConflict(t *testing.T) {
	reg, _ := published(t)
	l := &lock.Lock{}
	_, err := reg.Client().Install(t.Context(), l, lock.Cache{Dir: t.TempDir()},
		[]resolve.Requirement{{Name: "greeter"}, {Name: "tagger", Constraint: "^2"}})
	ce, ok := errors.AsType[*resolve.ConflictError](err)
	if !ok {
		t.Fatalf("Install() error = %v, want a *resolve.ConflictError", err)
	}
	for _, want := range []string{"because you require tagger ^2", "because greeter 1.0.0 requires tagger ^1",
		"so no version of greeter can be installed"} {
		if !strings.Contains(ce.Error(), want) {
			t.Errorf("explanation %q lacks %q", ce.Error(), want)
		}
	}
	if len(l.Plugins) != 0 {
		t.Errorf("a failed install changed the lockfile: %+v", l.Plugins)
	}
}

func TestInstallRefusesTampering(t *testing.T) {
	reg, mods := published(t)
	path := reg.ArtifactPath(lock.Hash(mods["tagger"]))
	if err := os.WriteFile(path, append(slices.Clone(mods["tagger"]), 0), 0o600); err != nil {
		t.Fatal(err)
	}
	l := &lock.Lock{}
	_, err := reg.Client().Install(t.Context(), l, lock.Cache{Dir: t.TempDir()}, []resolve.Requirement{{Name: "greeter"}})
	if !errors.Is(err, lock.ErrHash) || !strings.Contains(err.Error(), "plugin tagger@1.0.0") {
		t.Fatalf("Install() error = %v, want ErrHash naming tagger@1.0.0", err)
	}
	if len(l.Plugins) != 0 {
		t.Errorf("a failed install changed the lockfile: %+v", l.Plugins)
	}
}

func TestInstallRefusesAChangedKey(t *testing.T) {
	reg, _ := published(t)
	cache := lock.Cache{Dir: t.TempDir()}
	l := &lock.Lock{}
	if _, err := reg.Client().Install(t.Context(), l, cache, []resolve.Requirement{{Name: "tagger", Constraint: "1.0.0"}}); err != nil {
		t.Fatal(err)
	}
	e, _ := l.Find("tagger")
	e.Key = markettest.NewKey(t).Public.String() // as if the lockfile had trusted another key
	l.Set(e)
	_, err := reg.Client().Install(t.Context(), l, cache, []resolve.Requirement{{Name: "greeter"}})
	if err == nil || !strings.Contains(err.Error(), "plugin tagger: the registry lists publisher key") {
		t.Fatalf("Install() error = %v, want the changed key refused", err)
	}
}

func TestUpdateAndRemove(t *testing.T) {
	reg, _ := published(t)
	c := reg.Client()
	cache := lock.Cache{Dir: t.TempDir()}
	l := &lock.Lock{}
	if _, err := c.Install(t.Context(), l, cache, []resolve.Requirement{{Name: "tagger", Constraint: "1.0.0"}}); err != nil {
		t.Fatal(err)
	}
	got, err := c.Update(t.Context(), l, cache, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"~ tagger 1.0.0 -> 2.0.0"}, changes(got)); diff != "" {
		t.Errorf("update (-want +got):\n%s", diff)
	}
	// greeter needs tagger ^1: installing it moves tagger back down.
	got, err = c.Install(t.Context(), l, cache, []resolve.Requirement{{Name: "greeter"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"+ greeter@1.0.0", "~ tagger 2.0.0 -> 1.0.0"}, changes(got)); diff != "" {
		t.Errorf("install (-want +got):\n%s", diff)
	}
	if _, err := client.Remove(l, "tagger"); err == nil || !strings.Contains(err.Error(), "plugin tagger is required by [greeter@1.0.0]") {
		t.Errorf("Remove(tagger) error = %v, want it refused: greeter requires it", err)
	}
	for _, name := range []string{"greeter", "tagger"} {
		if _, err := client.Remove(l, name); err != nil {
			t.Errorf("Remove(%s): %v", name, err)
		}
	}
	if len(l.Plugins) != 0 {
		t.Errorf("after removing both: %+v", l.Plugins)
	}
}

func TestSearchAndInfo(t *testing.T) {
	reg, _ := published(t)
	c := reg.Client()
	res, err := c.Search(t.Context(), "tag")
	if err != nil || len(res) == 0 || res[0].Name != "tagger" || res[0].Latest != "2.0.0" {
		t.Fatalf("Search(tag) = %+v, %v", res, err)
	}
	p, err := c.Plugin(t.Context(), "greeter")
	if err != nil || p.Versions[0].Version != "1.0.0" || p.Publisher != "acme" {
		t.Fatalf("Plugin(greeter) = %+v, %v", p, err)
	}
	if _, err := c.Plugin(t.Context(), "../../etc"); err == nil {
		t.Error("Plugin(../../etc) did not refuse the name")
	}
}

// Install of a plugin with five dependencies from a registry on
// 127.0.0.1, into an empty cache: resolution, downloads, hash and
// signature checks, and the cache's writes.
func BenchmarkInstall(b *testing.B) {
	reg := markettest.StartRegistry(b, registry.Config{})
	mods := markettest.Build(b, markettest.Perf...)
	reg.Publish(b, "app", "1.0.0", mods["perf/app"])
	for i := 1; i <= 5; i++ {
		reg.Publish(b, fmt.Sprint("dep", i), fmt.Sprintf("1.%d.0", i), mods[fmt.Sprint("perf/dep", i)])
	}
	c := reg.Client()
	for b.Loop() {
		b.StopTimer()
		cache := lock.Cache{Dir: b.TempDir()}
		b.StartTimer()
		cs, err := c.Install(b.Context(), &lock.Lock{}, cache, []resolve.Requirement{{Name: "app"}})
		if err != nil || len(cs) != 6 {
			b.Fatalf("Install() = %v, %v", cs, err)
		}
	}
}
