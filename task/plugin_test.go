package task_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/plykit/ply"
	"github.com/plykit/ply/task"
)

// A plugin that requires "tasks" starts its background work on the host's
// group; the host stops it after the plugin's own Stop.
func TestPluginOwnsTasks(t *testing.T) {
	stopped := make(chan error, 1)
	worker := ply.Func{
		Meta: ply.Info{Name: "worker", Version: "1.0.0", Requires: []ply.Dependency{{Name: "tasks"}}},
		OnProvision: func(_ context.Context, s *ply.Setup) error {
			g, err := ply.Lookup(s, task.Tasks)
			if err != nil {
				return err
			}
			return g.Go("loop", func(ctx context.Context) error {
				<-ctx.Done()
				stopped <- ctx.Err()
				return nil
			})
		},
	}
	h, err := ply.New([]ply.Plugin{worker, task.NewPlugin()}, ply.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-stopped:
		t.Fatalf("task ended before the host stopped: %v", err)
	default:
	}
	if err := h.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-stopped:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("task context error = %v, want context.Canceled", err)
		}
	default:
		t.Fatal("host Stop returned before the task ended")
	}
}
