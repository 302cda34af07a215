package ply_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply"
)

type cacheOptions struct {
	TTL   time.Duration `json:"ttl,omitempty" jsonschema:"minimum=0"`
	Size  int           `json:"size,omitempty" jsonschema:"minimum=0,maximum=1000000"`
	Store string        `json:"store,omitempty" jsonschema:"enum=memory,enum=nats"`
}

func (o *cacheOptions) Validate() error {
	if o.Store == "nats" && o.Size > 0 {
		return &ply.FieldError{Path: "size", Problem: "must be 0 with store nats (the bucket sets its own size)"}
	}
	return nil
}

func cachePlugin(opts *cacheOptions) ply.Plugin {
	return ply.Func{Meta: ply.Info{Name: "cache", Version: "1.0.0"}, Opts: opts}
}

func TestOptions(t *testing.T) {
	const file = `# ply.yaml
plugins:
  cache:
    options:
      ttl: 5s
      size: -1
      colour: red
`
	for _, tt := range []struct {
		name string
		code cacheOptions
		raw  *ply.RawOptions
		want []ply.ConfigError
		got  cacheOptions // the options after a successful build
	}{
		{name: "valid options in code", code: cacheOptions{TTL: time.Second, Size: 10}, got: cacheOptions{TTL: time.Second, Size: 10}},
		{name: "invalid options in code", code: cacheOptions{Size: -5, Store: "disk"}, want: []ply.ConfigError{
			{Plugin: "cache", Field: "size", Problem: "must be >= 0"},
			{Plugin: "cache", Field: "store", Problem: `must be one of "memory", "nats"`},
		}},
		{name: "Validate method names the field", code: cacheOptions{Store: "nats", Size: 3}, want: []ply.ConfigError{
			{Plugin: "cache", Field: "size", Problem: "must be 0 with store nats (the bucket sets its own size)"},
		}},
		{name: "file options replace code options", code: cacheOptions{Size: 10, Store: "memory"},
			raw: &ply.RawOptions{File: "ply.yaml", Data: []byte("ttl: 2s\n")}, got: cacheOptions{TTL: 2 * time.Second}},
		{name: "every problem in the file at once, with positions", raw: &ply.RawOptions{File: "ply.yaml", Data: []byte(file), Path: "$.plugins.cache.options"},
			want: []ply.ConfigError{
				{Plugin: "cache", Field: "size", File: "ply.yaml", Line: 6, Column: 13, Problem: "must be >= 0"},
				{Plugin: "cache", Field: "colour", File: "ply.yaml", Line: 7, Column: 7, Problem: `unknown field (known fields: "ttl", "size", "store")`},
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.code
			var hostOpts []ply.Option
			if tt.raw != nil {
				hostOpts = append(hostOpts, ply.WithOptions("cache", *tt.raw))
			}
			h, err := ply.New([]ply.Plugin{cachePlugin(&opts)}, hostOpts...)
			if err != nil {
				t.Fatal(err)
			}
			_, err = h.Plan()
			var got []ply.ConfigError
			if err != nil {
				for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
					ce, ok := errors.AsType[*ply.ConfigError](e)
					if !ok {
						t.Fatalf("error %v is not a *ConfigError", e)
					}
					got = append(got, *ce)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("config errors (-want +got):\n%s", diff)
			}
			if err == nil && opts != tt.got {
				t.Errorf("options = %+v, want %+v", opts, tt.got)
			}
		})
	}
}

func TestConfigErrorMessage(t *testing.T) {
	e := &ply.ConfigError{Plugin: "cache", Field: "ttl", File: "ply.yaml", Line: 12, Column: 8, Problem: "must be >= 0"}
	if got, want := e.Error(), "ply.yaml:12:8: plugin cache: ttl: must be >= 0"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestSchema(t *testing.T) {
	s, err := ply.Schema(cachePlugin(&cacheOptions{}))
	if err != nil || len(s) == 0 {
		t.Fatalf("Schema() = %s, %v", s, err)
	}
	if s, err := ply.Schema(ply.Func{Meta: ply.Info{Name: "x", Version: "1.0.0"}}); s != nil || err != nil {
		t.Errorf("Schema(no options) = %s, %v; want nil, nil", s, err)
	}
}
