package jobqueue_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plykit/ply"
	"github.com/plykit/ply/jobqueue"
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
