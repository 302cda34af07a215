package admin

import (
	"context"
	"time"

	"github.com/plykit/ply"
)

// Jobs is what the jobs page needs of a host's job queues. The wiring code
// adapts the host's queue to it (ply run does; see [Options.Jobs]).
type Jobs interface {
	// Queues returns each queue's figures.
	Queues(ctx context.Context) ([]Queue, error)
	// Dead returns up to limit dead jobs of queue, oldest first.
	Dead(ctx context.Context, queue string, limit int) ([]DeadJob, error)
	// RetryDead moves the dead job at seq back to its queue.
	RetryDead(ctx context.Context, queue string, seq uint64) error
	// DiscardDead removes the dead job at seq.
	DiscardDead(ctx context.Context, queue string, seq uint64) error
	// Topics returns the event topics with their subscriptions; nil when
	// the host has no event bus.
	Topics(ctx context.Context) ([]Topic, error)
}

// Queue is one job queue's figures.
type Queue struct {
	Name         string `json:"name"`
	Pending      uint64 `json:"pending"`
	Scheduled    uint64 `json:"scheduled"`
	Running      int64  `json:"running"`
	Done         uint64 `json:"done"`
	Retried      uint64 `json:"retried"`
	DeadLettered uint64 `json:"deadLettered"`
	Dead         uint64 `json:"dead"`
}

// DeadJob is one dead letter.
type DeadJob struct {
	Seq      uint64    `json:"seq"` // its place in the dead-letter stream: what RetryDead takes
	ID       string    `json:"id"`
	Attempts int       `json:"attempts"`
	Enqueued time.Time `json:"enqueued"`
	Error    string    `json:"error"`   // the last attempt's
	Payload  string    `json:"payload"` // as text, cut at 256 bytes
}

// Topic is one event topic's subscription.
type Topic struct {
	Subject string `json:"subject"`
	Async   bool   `json:"async"`
	Remote  bool   `json:"remote"`
	Dropped uint64 `json:"dropped"`
}

// Reloader is what the reload page needs to move the host to a new
// configuration: ply run's file reload implements it.
type Reloader interface {
	// Config returns the configuration the host runs, and its file's name.
	Config() (name string, data []byte, err error)
	// Preview checks data as a reload would and says what it would change,
	// touching nothing.
	Preview(ctx context.Context, data []byte) (Preview, error)
	// Apply moves the host to data.
	Apply(ctx context.Context, data []byte) (ply.Reloaded, error)
}

// Preview is what a reload to a new configuration would change.
type Preview struct {
	Added     []string `json:"added,omitempty"`     // plugins new to the host
	Removed   []string `json:"removed,omitempty"`   // plugins no longer in it
	Changed   []string `json:"changed,omitempty"`   // plugins whose entries changed: rebuilt, with what depends on them
	Unchanged []string `json:"unchanged,omitempty"` // plugins that keep running as they are
	Diff      string   `json:"diff"`                // the two files, line by line: "-" old, "+" new, " " both
}
