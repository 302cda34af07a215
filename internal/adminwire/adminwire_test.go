package adminwire_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/plykit/ply"
	"github.com/plykit/ply/admin"
	"github.com/plykit/ply/backbone"
	"github.com/plykit/ply/eventbus"
	"github.com/plykit/ply/internal/adminwire"
	"github.com/plykit/ply/jobqueue"
	"github.com/plykit/ply/plytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The adapter shows a real host's queues and topics, and retries and
// discards its dead jobs; what does not exist is the admin's not-found.
func TestJobsOnARealHost(t *testing.T) {
	h := plytest.New(t, []ply.Plugin{backbone.New(backbone.Options{DataDir: t.TempDir()}), jobqueue.NewPlugin(jobqueue.PluginOptions{}), eventbus.NewPlugin()},
		ply.WithLogger(slog.New(slog.DiscardHandler)), ply.WithModules(ply.Module{Name: "m", Handlers: []ply.Handler{
			{Kind: ply.KindJob, Name: "mail", Func: func(context.Context, *ply.Call) error {
				return jobqueue.ErrPermanent // every job dies at once
			}},
			{Kind: ply.KindEvent, Name: "orders.created", Func: func(context.Context, *ply.Call) error { return nil }},
		}}))
	jobs := adminwire.Jobs(h)
	ctx := t.Context()
	q, err := ply.Lookup(h, jobqueue.Key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jobqueue.Enqueue(ctx, q, "mail", "hello"); err != nil {
		t.Fatal(err)
	}
	var dead []admin.DeadJob
	deadline := time.Now().Add(10 * time.Second)
	for len(dead) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no dead job after 10s")
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
		if dead, err = jobs.Dead(ctx, "mail", 10); err != nil {
			t.Fatal(err)
		}
	}
	if dead[0].Payload != `"hello"` || dead[0].Attempts != 1 || dead[0].Error == "" {
		t.Errorf("dead job %+v: want its payload, one attempt and the error", dead[0])
	}
	queues, err := jobs.Queues(ctx)
	if err != nil || len(queues) != 1 || queues[0].Name != "mail" || queues[0].Dead != 1 {
		t.Errorf("Queues = %+v, %v; want mail with one dead job", queues, err)
	}
	if err := jobs.DiscardDead(ctx, "mail", dead[0].Seq); err != nil {
		t.Fatalf("DiscardDead: %v", err)
	}
	for name, op := range map[string]func() error{
		"retry a discarded job":   func() error { return jobs.RetryDead(ctx, "mail", dead[0].Seq) },
		"discard a discarded job": func() error { return jobs.DiscardDead(ctx, "mail", dead[0].Seq) },
		"a bad queue name":        func() error { _, err := jobs.Dead(ctx, "no such", 1); return err },
	} {
		if err := op(); !errors.Is(err, admin.ErrNotFound) {
			t.Errorf("%s: %v, want admin.ErrNotFound", name, err)
		}
	}
	topics, err := jobs.Topics(ctx)
	if err != nil || len(topics) != 1 || topics[0].Subject != "orders.created" {
		t.Errorf("Topics = %+v, %v; want orders.created", topics, err)
	}
}

// A host without a job queue or a bus has none to show.
func TestJobsWithoutQueues(t *testing.T) {
	h := plytest.New(t, nil, ply.WithLogger(slog.New(slog.DiscardHandler)))
	jobs := adminwire.Jobs(h)
	if qs, err := jobs.Queues(t.Context()); err != nil || len(qs) != 0 {
		t.Errorf("Queues = %v, %v; want none", qs, err)
	}
	if ts, err := jobs.Topics(t.Context()); err != nil || len(ts) != 0 {
		t.Errorf("Topics = %v, %v; want none", ts, err)
	}
	if err := jobs.RetryDead(t.Context(), "q", 1); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("RetryDead without a queue: %v, want admin.ErrNotFound", err)
	}
}

// Showing the jobs page does not load a lazy job queue.
func TestJobsLeavesALazyQueueUnloaded(t *testing.T) {
	h := plytest.New(t, []ply.Plugin{backbone.New(backbone.Options{DataDir: t.TempDir()}), jobqueue.NewPlugin(jobqueue.PluginOptions{})},
		ply.WithLogger(slog.New(slog.DiscardHandler)), ply.WithLazy("jobs"))
	if qs, err := adminwire.Jobs(h).Queues(t.Context()); err != nil || len(qs) != 0 {
		t.Errorf("Queues = %v, %v; want none", qs, err)
	}
	for _, st := range h.Health(t.Context()) {
		if st.Name == "jobs" && st.State != ply.StateLazy {
			t.Errorf("jobs is %v after the jobs page, want still lazy", st.State)
		}
	}
}
