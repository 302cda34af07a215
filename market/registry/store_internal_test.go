package registry

import (
	"path/filepath"
	"testing"
)

// Whatever a user types into the search box is a valid FTS5 query: the
// search answers, never with a syntax error.
func FuzzSearch(f *testing.F) {
	for _, q := range []string{"tag", `"*) OR NEAR(`, "a AND b", "^x", "名前", "col:val", "-x +y", `""`} {
		f.Add(q)
	}
	s, err := openStore(f.Context(), filepath.Join(f.TempDir(), "registry.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.db.Close() })
	f.Fuzz(func(t *testing.T, q string) {
		if _, err := s.search(t.Context(), q, 10); err != nil {
			t.Fatalf("search %q: %v (FTS5 query %q)", q, err, ftsQuery(q))
		}
	})
}
