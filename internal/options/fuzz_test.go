package options_test

import (
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/plykit/ply/internal/options"
	"github.com/plykit/ply/option"
)

// FuzzDecode checks that Decode never panics, leaves the options zero when it
// reports problems, and that options it accepts survive a round trip through YAML.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		validYAML,
		validJSON,
		hostYAML,
		"name: x\nttl: 1s\n",
		"{}",
		"",
		"name: [\n",
		"base: &b {rate: 1}\nlimits: {<<: *b, burst: 2}\n",
		"tags: {a: b, 'c.d': \"e\\nf\"}\nservers: [{url: 'http://x', weight: 0x10}]\n",
		laughs(10),
		"tags: &t {a: *t}\n",
		"tags: {x: " + strings.Repeat("[", 3000) + "}\n",
		"name: ${NAME}\nttl: ${TTL}\n",
	} {
		f.Add([]byte(s))
	}
	env := func(k string) (string, bool) { return map[string]string{"NAME": "x", "TTL": "1s"}[k], k != "NOPE" }
	f.Fuzz(func(t *testing.T, data []byte) {
		var got testOptions
		var problems []*option.Error
		if alloc := heapGrowth(func() { problems = options.Decode(options.Source{File: "fuzz.yaml", Data: data, Env: env}, &got) }); alloc > 64<<20+uint64(len(data))<<10 {
			t.Fatalf("Decode of %d bytes allocated %d MiB", len(data), alloc>>20)
		}
		if len(problems) > 0 {
			for _, p := range problems {
				if p.Problem == "" {
					t.Errorf("problem without a message: %#v", p)
				}
			}
			if diff := cmp.Diff(testOptions{}, got); diff != "" {
				t.Errorf("options not zero after problems %v (-want +got):\n%s", problems, diff)
			}
			return // invalid input is fine; panics and bad round trips are not
		}
		b, err := yaml.MarshalWithOptions(got, yaml.JSON()) // JSON is YAML, and goccy writes "\n" in block style as an empty value
		if err != nil {
			t.Fatalf("yaml.Marshal(%+v) error = %v", got, err)
		}
		var again testOptions
		if problems := options.Decode(options.Source{File: "again.yaml", Data: b}, &again); len(problems) > 0 {
			t.Fatalf("round trip %q -> %+v -> %q: %v", data, got, b, problems)
		}
		if diff := cmp.Diff(got, again, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip %q -> %q (-first +second):\n%s", data, b, diff)
		}
	})
}
