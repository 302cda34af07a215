package cli

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/plykit/ply/option"
)

// FuzzRevision loads fleet revisions, whose bytes come from the bucket
// (any client may push): a revision loads or is refused, never panics, and
// every problem that has a position names the revision, so a host's status
// says which revision and where.
func FuzzRevision(f *testing.F) {
	f.Add(fleetConfig("hello", false))
	f.Add(fleetConfig("more", true))
	f.Add("plugins:\n  - name: nosuchplugin\n")
	f.Add("listen: 127.0.0.1:0\nmodules: [{name: m, routes: [{route: GET /x, static: {text: ${NOPE}}}]}]\n")
	a := &app{catalog: stockCatalog(), replaced: map[string]bool{}, server: "httpserver", stdout: io.Discard, stderr: io.Discard}
	const name = "fleet:ply_kv_fleet/config@7"
	f.Fuzz(func(t *testing.T, data string) {
		_, _, _, err := a.loadData(name, []byte(data), nil)
		if err == nil {
			return
		}
		var flatten func(error)
		flatten = func(err error) {
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				for _, e := range j.Unwrap() {
					flatten(e)
				}
				return
			}
			if e, ok := errors.AsType[*option.Error](err); ok && e.Line > 0 && e.File != name && !strings.Contains(err.Error(), name) {
				t.Fatalf("problem at line %d names %q, want the revision %q: %v", e.Line, e.File, name, err)
			}
		}
		flatten(err)
	})
}
