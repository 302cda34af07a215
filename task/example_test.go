package task_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/plykit/ply/task"
)

// A task that fails is restarted after a backoff; one that returns nil is
// done. Stop cancels the rest and waits for them.
func ExampleGroup() {
	g := task.NewGroup(slog.New(slog.DiscardHandler))
	done := make(chan struct{})
	runs := 0
	_ = g.Go("connect", func(_ context.Context) error {
		runs++
		fmt.Println("run", runs)
		if runs < 3 {
			return errors.New("not yet")
		}
		close(done)
		return nil
	}, task.WithBackoff(time.Millisecond, 10*time.Millisecond))
	<-done

	_ = g.Go("serve", func(ctx context.Context) error {
		<-ctx.Done()
		fmt.Println("serve stopped:", ctx.Err())
		return nil
	})
	if err := g.Stop(context.Background()); err != nil {
		fmt.Println(err)
	}
	// Output:
	// run 1
	// run 2
	// run 3
	// serve stopped: context canceled
}
