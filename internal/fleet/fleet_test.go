package fleet

import (
	"errors"
	"log/slog"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plykit/ply/internal/natstest"
)

// TestLeaderCurrent reads the current revision from the stream's leader
// as Current reads it from any replica: none before a push, then each
// push's number and data, none once the key is deleted.
func TestLeaderCurrent(t *testing.T) {
	nc, err := nats.Connect("", nats.InProcessServer(natstest.Embedded(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(t.Context(), js, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.leaderCurrent(t.Context()); !errors.Is(err, ErrNoRevision) {
		t.Fatalf("before a push: %v, want ErrNoRevision", err)
	}
	var last uint64
	for _, data := range []string{"one", "two"} {
		if err := f.Report(t.Context(), Status{Host: "h1", Revision: last}); err != nil { // other keys in between
			t.Fatal(err)
		}
		if last, err = f.Push(t.Context(), []byte(data), last); err != nil {
			t.Fatal(err)
		}
		got, err := f.leaderCurrent(t.Context())
		want, werr := f.Current(t.Context())
		if err != nil || werr != nil || got.Number != last || string(got.Data) != data || got.Number != want.Number || !got.Created.Equal(want.Created) {
			t.Fatalf("after pushing %q as %d: leaderCurrent = %+v, %v; Current = %+v, %v", data, last, got, err, want, werr)
		}
	}
	if err := f.store.Delete(t.Context(), ConfigKey); err != nil {
		t.Fatal(err)
	}
	if _, err := f.leaderCurrent(t.Context()); !errors.Is(err, ErrNoRevision) {
		t.Fatalf("after a delete: %v, want ErrNoRevision", err)
	}
	w := f.Watch(t.Context(), 0, slog.New(slog.DiscardHandler))
	w.Stop()
	if _, ok := <-w.Revisions(); ok {
		t.Error("a stopped watcher's channel is open")
	}
}
