package ply_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/plykit/ply"
)

type Store interface{ Get(key string) string }

type mapStore map[string]string

func (m mapStore) Get(k string) string { return m[k] }

var storeKey = ply.NewKey[Store]("db.store")

// provider provides storeKey at the given version (unless provide is false).
func provider(version string, provide bool) ply.Plugin {
	return ply.Func{
		Meta: ply.Info{Name: "db", Version: version},
		OnProvision: func(_ context.Context, s *ply.Setup) error {
			if !provide {
				return nil
			}
			return ply.Provide[Store](s, storeKey, mapStore{"v": version})
		},
	}
}

// consumer looks storeKey up in Provision and reports what it got.
func consumer(dep ply.Dependency, key ply.Key[Store], got *string, gotErr *error) ply.Plugin {
	var reqs []ply.Dependency
	if dep.Name != "" {
		reqs = []ply.Dependency{dep}
	}
	return ply.Func{
		Meta: ply.Info{Name: "app", Version: "1.0.0", Requires: reqs},
		OnProvision: func(_ context.Context, s *ply.Setup) error {
			st, err := ply.Lookup(s, key)
			*gotErr = err
			if err == nil {
				*got = st.Get("v")
			}
			return nil
		},
	}
}

func TestLookup(t *testing.T) {
	for _, tt := range []struct {
		name      string
		providers []ply.Plugin
		dep       ply.Dependency
		key       ply.Key[Store]
		want      string
		wantErr   error
	}{
		{name: "found", providers: []ply.Plugin{provider("1.2.0", true)}, dep: ply.Dependency{Name: "db"}, key: storeKey, want: "1.2.0"},
		{name: "not registered", key: storeKey, wantErr: ply.ErrNotRegistered},
		{name: "registered without the API", providers: []ply.Plugin{provider("1.2.0", false)}, dep: ply.Dependency{Name: "db"}, key: storeKey, wantErr: ply.ErrNoAPI},
		{name: "key constraint not satisfied", providers: []ply.Plugin{provider("1.2.0", true)}, dep: ply.Dependency{Name: "db"}, key: storeKey.Within("^2"), wantErr: ply.ErrVersionMismatch},
		{name: "side by side: highest satisfying version wins", providers: []ply.Plugin{provider("1.2.0", true), provider("2.1.0", true), provider("3.0.0", true)},
			dep: ply.Dependency{Name: "db", Constraint: "<3"}, key: storeKey, want: "2.1.0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			var gotErr error
			ps := append(slices.Clone(tt.providers), consumer(tt.dep, tt.key, &got, &gotErr))
			if _, startErr, _ := run(t, ps); startErr != nil {
				t.Fatal(startErr)
			}
			if !errors.Is(gotErr, tt.wantErr) || got != tt.want {
				t.Errorf("Lookup = %q, %v; want %q, %v", got, gotErr, tt.want, tt.wantErr)
			}
		})
	}
}

func TestLookupFromHost(t *testing.T) {
	_, h := newHost(t, []ply.Plugin{provider("1.0.0", true)})
	if _, err := ply.Lookup(h, storeKey); !errors.Is(err, ply.ErrNotRegistered) {
		t.Errorf("Lookup before start = %v, want ErrNotRegistered", err)
	}
	if err := h.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := h.Stop(t.Context()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	}()
	st, err := ply.Lookup(h, storeKey)
	if err != nil || st.Get("v") != "1.0.0" {
		t.Errorf("Lookup = %v, %v", st, err)
	}
	other := ply.NewKey[string]("db.store") // same name, other type
	if _, err := ply.Lookup(h, other); !errors.Is(err, ply.ErrNoAPI) {
		t.Errorf("Lookup with the wrong type = %v, want ErrNoAPI", err)
	}
}

func TestProvideRules(t *testing.T) {
	var errs []error
	plug := ply.Func{
		Meta: ply.Info{Name: "db", Version: "1.0.0"},
		OnProvision: func(_ context.Context, s *ply.Setup) error {
			errs = append(errs, ply.Provide[Store](s, storeKey, mapStore{}))
			errs = append(errs, ply.Provide[Store](s, storeKey, mapStore{}))
			errs = append(errs, ply.Provide(s, ply.NewKey[int]("cache.size"), 1))
			return nil
		},
	}
	if _, err, _ := run(t, []ply.Plugin{plug}); err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || !errors.Is(errs[1], ply.ErrDuplicate) || errs[2] == nil {
		t.Errorf("Provide errors = %v; want nil, ErrDuplicate, and an error for a foreign key", errs)
	}
}

func TestNewKeyPanicsOnBadName(t *testing.T) {
	for _, name := range []string{"nodot", ".x", "x.", ""} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewKey(%q) did not panic", name)
				}
			}()
			ply.NewKey[int](name)
		}()
	}
}
