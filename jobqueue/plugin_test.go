package jobqueue_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plykit/ply"
	"github.com/plykit/ply/jobqueue"
	"github.com/plykit/ply/option"
	"github.com/plykit/ply/plytest"
)

// fakeBackbone provides JetStream under the backbone's key, as the real
// backbone plugin does, from an embedded test server.
func fakeBackbone(t *testing.T) ply.Plugin {
	t.Helper()
	js := embedded(t)
	return ply.Func{Meta: ply.Info{Name: "backbone", Version: "0.1.0"}, OnProvision: func(_ context.Context, s *ply.Setup) error {
		return ply.Provide(s, ply.NewKey[jetstream.JetStream]("backbone.jetstream"), js)
	}}
}

// Job handlers are ply handlers: the jobs go through the same onion as
// requests, and the job is the call's request.
func TestPluginRunsJobsThroughTheChain(t *testing.T) {
	rec := plytest.NewRecorder()
	done := make(chan string, 3)
	after := make(chan struct{}, 3)
	tracer := ply.Func{Meta: ply.Info{Name: "tracer", Version: "1.0.0", Kinds: []ply.Kind{ply.KindJob}},
		OnWrap: func(context.Context, ply.Target) (ply.Wrap, error) {
			return ply.Wrap{Layer: func(ctx context.Context, c *ply.Call, next ply.Next) error {
				j := c.Request().(*jobqueue.Job)
				rec.Record("tracer before ", j.Queue, " attempt ", j.Attempt)
				err := next.Run(ctx)
				rec.Record("tracer after ", err)
				after <- struct{}{}
				return err
			}}, nil
		}}
	handler := func(_ context.Context, c *ply.Call) error {
		v, err := jobqueue.Decode[string](c.Request().(*jobqueue.Job))
		if err != nil {
			return err
		}
		done <- v
		return nil
	}
	h := plytest.New(t, []ply.Plugin{fakeBackbone(t), jobqueue.NewPlugin(jobqueue.PluginOptions{Stream: "TEST_JOBS"}), tracer},
		ply.WithLogger(slog.New(slog.DiscardHandler)),
		ply.WithModules(ply.Module{Name: "mail", Handlers: []ply.Handler{{Kind: ply.KindJob, Name: "welcome", Func: handler,
			Options: map[string]any{"jobs": &jobqueue.HandlerOptions{Concurrency: 2}}}}}))
	q, err := ply.Lookup(h, jobqueue.Key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jobqueue.Enqueue(t.Context(), q, "welcome", "ada"); err != nil {
		t.Fatal(err)
	}
	if got := <-done; got != "ada" {
		t.Errorf("job payload = %q", got)
	}
	<-after // the layer's after-code runs once the handler returned, before the ack
	if diff := cmp.Diff([]string{"tracer before welcome attempt 1", "tracer after <nil>"}, rec.Lines()); diff != "" {
		t.Errorf("trace (-want +got):\n%s", diff)
	}
}

// recordingJS records the stream configs the queue asks for, and creates
// them with one replica, as the embedded test server has no cluster.
type recordingJS struct {
	jetstream.JetStream
	mu   sync.Mutex
	cfgs []jetstream.StreamConfig
}

func (r *recordingJS) CreateOrUpdateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	r.mu.Lock()
	r.cfgs = append(r.cfgs, cfg)
	r.mu.Unlock()
	cfg.Replicas = 1
	return r.JetStream.CreateOrUpdateStream(ctx, cfg)
}

// Each of the plugin's stream options reaches the streams it creates, and
// its zero value keeps New's default.
func TestPluginStreamOptions(t *testing.T) {
	for _, tt := range []struct {
		name     string
		opts     jobqueue.PluginOptions
		storage  jetstream.StorageType
		replicas int
		subject  string // the work-queue stream's first subject
	}{
		{name: "defaults", storage: jetstream.FileStorage, replicas: 1, subject: "ply.jobs.ready.>"},
		{name: "memory", opts: jobqueue.PluginOptions{Storage: "memory"}, storage: jetstream.MemoryStorage, replicas: 1, subject: "ply.jobs.ready.>"},
		{name: "file", opts: jobqueue.PluginOptions{Storage: "file"}, storage: jetstream.FileStorage, replicas: 1, subject: "ply.jobs.ready.>"},
		{name: "replicas", opts: jobqueue.PluginOptions{Replicas: 3}, storage: jetstream.FileStorage, replicas: 3, subject: "ply.jobs.ready.>"},
		{name: "prefix", opts: jobqueue.PluginOptions{Prefix: "acme.work"}, storage: jetstream.FileStorage, replicas: 1, subject: "acme.work.ready.>"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			js := &recordingJS{JetStream: embedded(t)}
			bb := ply.Func{Meta: ply.Info{Name: "backbone", Version: "0.1.0"}, OnProvision: func(_ context.Context, s *ply.Setup) error {
				return ply.Provide(s, ply.NewKey[jetstream.JetStream]("backbone.jetstream"), jetstream.JetStream(js))
			}}
			plytest.New(t, []ply.Plugin{bb, jobqueue.NewPlugin(tt.opts)}, ply.WithLogger(slog.New(slog.DiscardHandler)))
			js.mu.Lock()
			defer js.mu.Unlock()
			if len(js.cfgs) != 3 {
				t.Fatalf("streams created = %d, want 3", len(js.cfgs))
			}
			for _, cfg := range js.cfgs {
				if cfg.Storage != tt.storage || cfg.Replicas != tt.replicas {
					t.Errorf("stream %s: storage %v, replicas %d; want %v, %d", cfg.Name, cfg.Storage, cfg.Replicas, tt.storage, tt.replicas)
				}
			}
			if got := js.cfgs[0].Subjects[0]; got != tt.subject {
				t.Errorf("stream %s subject = %q, want %q", js.cfgs[0].Name, got, tt.subject)
			}
		})
	}
}

// A bad stream option is an *option.Error naming the plugin and the field.
func TestPluginStreamOptionErrors(t *testing.T) {
	for _, tt := range []struct {
		name, field string
		opts        jobqueue.PluginOptions
	}{
		{name: "storage", field: "storage", opts: jobqueue.PluginOptions{Storage: "disk"}},
		{name: "replicas even", field: "replicas", opts: jobqueue.PluginOptions{Replicas: 2}},
		{name: "replicas negative", field: "replicas", opts: jobqueue.PluginOptions{Replicas: -1}},
		{name: "prefix wildcard", field: "prefix", opts: jobqueue.PluginOptions{Prefix: "ply.*"}},
		{name: "prefix empty token", field: "prefix", opts: jobqueue.PluginOptions{Prefix: "ply..jobs"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ply.New([]ply.Plugin{jobqueue.NewPlugin(tt.opts)}, ply.WithLogger(slog.New(slog.DiscardHandler)))
			if err == nil {
				_, err = h.Plan()
			}
			ce, ok := errors.AsType[*option.Error](err)
			if !ok {
				t.Fatalf("Plan() with %+v = %v, want a *option.Error", tt.opts, err)
			}
			if ce.Plugin != "jobs" || ce.Field != tt.field {
				t.Errorf("option.Error = %+v, want plugin jobs, field %s", *ce, tt.field)
			}
		})
	}
}
