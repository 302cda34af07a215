package ply_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply"
	"github.com/plykit/ply/option"
)

type cacheOptions struct {
	TTL   time.Duration `json:"ttl,omitempty" jsonschema:"minimum=0"`
	Size  int           `json:"size,omitempty" jsonschema:"minimum=0,maximum=1000000"`
	Store string        `json:"store,omitempty" jsonschema:"enum=memory,enum=nats"`
}

func (o *cacheOptions) Validate() error {
	if o.Store == "nats" && o.Size > 0 {
		return &option.Error{Field: "size", Problem: "must be 0 with store nats (the bucket sets its own size)"}
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
		want []option.Error
		got  cacheOptions // the options after a successful Start
	}{
		{name: "valid options in code", code: cacheOptions{TTL: time.Second, Size: 10}, got: cacheOptions{TTL: time.Second, Size: 10}},
		{name: "invalid options in code", code: cacheOptions{Size: -5, Store: "disk"}, want: []option.Error{
			{Plugin: "cache", Field: "size", Problem: "must be >= 0, got -5"},
			{Plugin: "cache", Field: "store", Problem: `must be one of "memory", "nats"`},
		}},
		{name: "Validate method names the field", code: cacheOptions{Store: "nats", Size: 3}, want: []option.Error{
			{Plugin: "cache", Field: "size", Problem: "must be 0 with store nats (the bucket sets its own size)"},
		}},
		{name: "file options replace code options", code: cacheOptions{Size: 10, Store: "memory"},
			raw: &ply.RawOptions{File: "ply.yaml", Data: []byte("ttl: 2s\n")}, got: cacheOptions{TTL: 2 * time.Second}},
		{name: "every problem in the file at once, with positions", raw: &ply.RawOptions{File: "ply.yaml", Data: []byte(file), Path: "$.plugins.cache.options"},
			want: []option.Error{
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
			var got []option.Error
			if err != nil {
				for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
					ce, ok := errors.AsType[*option.Error](e)
					if !ok {
						t.Fatalf("error %v is not an *option.Error", e)
					}
					got = append(got, *ce)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("config errors (-want +got):\n%s", diff)
			}
			if opts != tt.code {
				t.Errorf("options after Plan = %+v, want them untouched: %+v", opts, tt.code)
			}
			if err != nil {
				return
			}
			if err := h.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := h.Stop(t.Context()); err != nil {
					t.Errorf("Stop: %v", err)
				}
			}()
			if opts != tt.got {
				t.Errorf("options after Start = %+v, want %+v", opts, tt.got)
			}
		})
	}
}

// Plan writes nothing into the plugins: a plan made with file options
// leaves no stale options behind for a host started with another config.
func TestPlanLeavesOptionsAlone(t *testing.T) {
	opts := &cacheOptions{}
	var provisioned []cacheOptions
	cache := ply.Func{Meta: ply.Info{Name: "cache", Version: "1.0.0"}, Opts: opts,
		OnProvision: func(context.Context, *ply.Setup) error { provisioned = append(provisioned, *opts); return nil }}
	file := func(doc string) []ply.Option {
		return []ply.Option{ply.WithOptions("cache", ply.RawOptions{File: "ply.yaml", Data: []byte(doc)})}
	}
	code := cacheOptions{TTL: time.Second, Size: 10}
	for _, tt := range []struct {
		name      string
		plan      []ply.Option // the config of the host that only plans
		planErr   bool
		start     []ply.Option // the config of the host then started
		wantStart cacheOptions // what Provision sees
	}{
		{name: "file options, then none", plan: file("ttl: 5s\n"), wantStart: code},
		{name: "bad file options, then none", plan: file("ttl: 3s\nsize: -1\ncolour: red\n"), planErr: true, wantStart: code},
		{name: "file options, then others", plan: file("ttl: 5s\n"), start: file("ttl: 7s\n"), wantStart: cacheOptions{TTL: 7 * time.Second}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			*opts, provisioned = code, nil
			planner, err := ply.New([]ply.Plugin{cache}, tt.plan...)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := planner.Plan(); (err != nil) != tt.planErr {
				t.Fatalf("Plan() = %v, want error %v", err, tt.planErr)
			}
			if *opts != code {
				t.Errorf("options after Plan = %+v, want them untouched: %+v", *opts, code)
			}
			h, err := ply.New([]ply.Plugin{cache}, tt.start...)
			if err != nil {
				t.Fatal(err)
			}
			if err := h.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := h.Stop(t.Context()); err != nil {
					t.Errorf("Stop: %v", err)
				}
			}()
			if diff := cmp.Diff([]cacheOptions{tt.wantStart}, provisioned); diff != "" {
				t.Errorf("options seen by Provision (-want +got):\n%s", diff)
			}
		})
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

// Options given to New name plugins, so they reach a plugin registered
// later with Register exactly as one given to New.
func TestNewOptionsReachRegisteredPlugins(t *testing.T) {
	opts := &cacheOptions{}
	var provisioned cacheOptions
	var defaultRan bool
	cache := ply.Func{Meta: ply.Info{Name: "cache", Version: "1.0.0"}, Opts: opts,
		OnProvision: func(context.Context, *ply.Setup) error { provisioned = *opts; return nil }}
	audit := ply.Func{Meta: ply.Info{Name: "audit", Version: "1.0.0"}}
	defaultAudit := ply.Func{Meta: ply.Info{Name: "audit", Version: "0.1.0"},
		OnProvision: func(context.Context, *ply.Setup) error { defaultRan = true; return nil }}
	h, err := ply.New(plugins(p{name: "first"}),
		ply.WithDefaults(defaultAudit),
		ply.WithOptions("cache", ply.RawOptions{File: "ply.yaml", Data: []byte("ttl: 5s\n")}),
		ply.WithPriority("cache", ply.System))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Register(cache, audit); err != nil {
		t.Fatal(err)
	}
	plan, err := h.Plan()
	if err != nil {
		t.Fatalf("Plan() = %v", err)
	}
	var got []string
	for _, i := range plan.Order(ply.LifecycleOrder) {
		got = append(got, fmt.Sprintf("%s %d", i.ID(), i.Priority))
	}
	// The default's slot is taken by the registered audit; cache moved up by WithPriority.
	if diff := cmp.Diff([]string{"cache@1.0.0 50", "audit@1.0.0 300", "first@1.0.0 300"}, got); diff != "" {
		t.Errorf("lifecycle order (-want +got):\n%s", diff)
	}
	if err := h.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := h.Stop(t.Context()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	}()
	if provisioned != (cacheOptions{TTL: 5 * time.Second}) || defaultRan {
		t.Errorf("cache provisioned with %+v (default ran: %v), want the file's options and no default", provisioned, defaultRan)
	}
}
