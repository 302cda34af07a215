// Package task runs supervised background goroutines owned by the host.
//
// # Groups
//
// A [Group] starts tasks with [Group.Go] and stops them all with
// [Group.Stop]: it cancels their context and waits for them to return. A
// task that returns an error or panics is restarted after an exponential
// backoff with jitter; the panic is recovered and logged with its stack. A
// task that returns nil, or returns once the group stops, is done.
//
//	g := task.NewGroup(logger)
//	err := g.Go("flush", func(ctx context.Context) error {
//		return flushLoop(ctx) // returns when ctx is done
//	}, task.WithBackoff(time.Second, time.Minute))
//	…
//	err = g.Stop(ctx)
//
// # Restarts
//
// By default a failed task is restarted without limit, after a delay that
// starts at 1s, doubles at each failure in a row up to 30s, and varies by
// ±50% (jitter). A run that lasted at least the maximum delay resets the
// delay and the count of restarts in a row. [WithRestart], [WithMaxRestarts]
// and [WithBackoff] change this per task.
//
// # Owned by the host
//
// [Plugin] is a ply plugin named "tasks" that provides a group under the key
// [Tasks] and stops it in its Stop hook, after the plugins that require it
// have stopped. Plugins that run background work require "tasks", look the
// group up in Provision and start their tasks there or in Start:
//
//	g, err := ply.Lookup(s, task.Tasks)
package task
