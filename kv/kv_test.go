package kv_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/plykit/ply/internal/natstest"
	"github.com/plykit/ply/kv"
	"github.com/plykit/ply/plytest"
)

// nats.go v1.55 leaks one goroutine now and then when an object is put:
// ObjectStore.Put publishes asynchronously, which starts
// resetPendingAcksOnReconnect, then removes the status channel that
// goroutine is about to read (jetstream/object.go's deferred
// cleanupReplySub); when the removal wins, the goroutine receives from a
// nil channel for ever. It is nats.go's, not ours, so the check ignores it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/nats-io/nats.go/jetstream.(*jetStream).resetPendingAcksOnReconnect"))
}

// embeddedJS returns JetStream on an in-process server.
func embeddedJS(t *testing.T) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(plytest.NATS(t))
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func newStore(t *testing.T, js jetstream.JetStream, ns string, opts ...kv.Option) *kv.Store {
	t.Helper()
	s, err := kv.New(t.Context(), js, ns, opts...)
	if err != nil {
		t.Fatalf("New(%q): %v", ns, err)
	}
	return s
}

// crud runs the store's operations in order and checks each result.
func crud(t *testing.T, s *kv.Store) {
	t.Helper()
	ctx := t.Context()
	if _, err := s.Get(ctx, "missing"); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("Get(missing) = %v, want ErrNotFound", err)
	}
	r1, err := s.Put(ctx, "users.1", []byte("ann"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.Get(ctx, "users.1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(kv.Entry{Key: "users.1", Value: []byte("ann"), Revision: r1}, e, cmpopts.IgnoreFields(kv.Entry{}, "Created")); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}
	if _, err := s.Create(ctx, "users.1", []byte("bob")); !errors.Is(err, kv.ErrExists) {
		t.Errorf("Create(existing) = %v, want ErrExists", err)
	}
	r2, err := s.Update(ctx, "users.1", []byte("ann2"), r1)
	if err != nil {
		t.Fatalf("Update at the current revision: %v", err)
	}
	if _, err := s.Update(ctx, "users.1", []byte("stale"), r1); !errors.Is(err, kv.ErrConflict) {
		t.Errorf("Update at a stale revision = %v, want ErrConflict", err)
	}
	if _, err := s.Create(ctx, "users.2", []byte("cid")); err != nil {
		t.Fatalf("Create(new): %v", err)
	}
	keys, err := s.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"users.1", "users.2"}, keys); diff != "" {
		t.Errorf("Keys (-want +got):\n%s", diff)
	}
	if err := s.Delete(ctx, "users.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "users.1"); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("Get(deleted) = %v, want ErrNotFound", err)
	}
	if _, err := s.Create(ctx, "users.1", []byte("again")); err != nil {
		t.Errorf("Create(deleted): %v", err)
	}
	if _, err := s.Update(ctx, "users.1", []byte("x"), r2); !errors.Is(err, kv.ErrConflict) {
		t.Errorf("Update after re-create at the old revision = %v, want ErrConflict", err)
	}
}

func TestStore(t *testing.T) {
	crud(t, newStore(t, embeddedJS(t), "acme/users"))
}

func TestStoreExternal(t *testing.T) {
	nc, err := nats.Connect(natstest.Server(t))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	crud(t, newStore(t, js, "acme/users"))
}

func TestInvalidKey(t *testing.T) {
	s := newStore(t, embeddedJS(t), "app")
	for _, key := range []string{"has space", ".dot", "star*", ""} {
		if _, err := s.Put(t.Context(), key, nil); !errors.Is(err, kv.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
}

func TestNewRejects(t *testing.T) {
	js := embeddedJS(t)
	for _, tt := range []struct {
		name, ns string
		opts     []kv.Option
		wantNS   bool
	}{
		{name: "empty namespace", ns: "", wantNS: true},
		{name: "history", ns: "a", opts: []kv.Option{kv.WithHistory(65)}},
		{name: "replicas", ns: "a", opts: []kv.Option{kv.WithReplicas(0)}},
		{name: "ttl", ns: "a", opts: []kv.Option{kv.WithBucketTTL(-time.Second)}},
		{name: "max bytes", ns: "a", opts: []kv.Option{kv.WithMaxBytes(0)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := kv.New(t.Context(), js, tt.ns, tt.opts...)
			if err == nil {
				t.Fatal("New = nil error")
			}
			if got := errors.Is(err, kv.ErrNamespace); got != tt.wantNS {
				t.Errorf("New error %v: matches ErrNamespace = %v, want %v", err, got, tt.wantNS)
			}
		})
	}
}

// One tenant's store never sees another's keys, even for namespaces whose
// names differ only in characters a bucket name cannot hold.
func TestNamespacesAreIsolated(t *testing.T) {
	js := embeddedJS(t)
	ctx := t.Context()
	var stores []*kv.Store
	for _, ns := range []string{"acme/cache", "globex/cache", "acme_2fcache", "Acme/cache", "acme.cache"} {
		stores = append(stores, newStore(t, js, ns))
	}
	for i, s := range stores {
		if _, err := s.Put(ctx, "secret", []byte(s.Namespace())); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put(ctx, "only."+string(rune('a'+i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	buckets := map[string]bool{}
	for i, s := range stores {
		buckets[s.Bucket()] = true
		e, err := s.Get(ctx, "secret")
		if err != nil {
			t.Fatal(err)
		}
		if string(e.Value) != s.Namespace() {
			t.Errorf("store %s reads %q, another namespace's value", s.Namespace(), e.Value)
		}
		keys, err := s.Keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"only." + string(rune('a'+i)), "secret"}, keys); diff != "" {
			t.Errorf("store %s keys (-want +got):\n%s", s.Namespace(), diff)
		}
	}
	if len(buckets) != len(stores) {
		t.Errorf("%d namespaces share %d buckets", len(stores), len(buckets))
	}
}

// eventWait bounds the wait for a watcher's next event. A watcher is a
// JetStream ordered consumer: when a delivery goes missing (a starved
// machine), the client notices after 10s without messages or idle
// heartbeats (2 x 5s) and recreates the consumer from the last revision
// seen, so the event comes late but comes. A run under load (go test
// -race -count=5 beside CPU burners) once waited just over 10s.
const eventWait = 30 * time.Second

// next returns the watcher's next event, failing after eventWait.
func next(t *testing.T, w *kv.Watcher) kv.Event {
	t.Helper()
	select {
	case ev, ok := <-w.Updates():
		if !ok {
			t.Fatal("watcher stopped")
		}
		return ev
	case <-time.After(eventWait):
		t.Fatalf("no event within %v", eventWait)
	}
	return kv.Event{}
}

type seen struct {
	Key   string
	Value string
	Op    kv.Op
}

func see(ev kv.Event) seen { return seen{ev.Key, string(ev.Value), ev.Op} }

func TestWatch(t *testing.T) {
	s := newStore(t, embeddedJS(t), "app")
	ctx := t.Context()
	if _, err := s.Put(ctx, "users.1", []byte("ann")); err != nil {
		t.Fatal(err)
	}
	w, err := s.Watch(ctx, "users.*")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := s.Put(ctx, "other", []byte("ignored")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "users.2", []byte("bob")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "users.1"); err != nil {
		t.Fatal(err)
	}
	var got []seen
	for range 3 {
		got = append(got, see(next(t, w)))
	}
	want := []seen{{"users.1", "ann", kv.OpPut}, {"users.2", "bob", kv.OpPut}, {"users.1", "", kv.OpDelete}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	w.Stop()
	if _, ok := <-w.Updates(); ok {
		t.Error("Updates not closed after Stop")
	}
	<-w.Done()
}

func TestWatchStopsWithContext(t *testing.T) {
	s := newStore(t, embeddedJS(t), "app")
	ctx, cancel := context.WithCancel(t.Context())
	w, err := s.Watch(ctx, ">", kv.WithUpdatesOnly(true))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-w.Done()
	w.Stop() // harmless after the context ended it
}

// A key created with a TTL expires on its own; the watcher sees it go.
func TestKeyTTL(t *testing.T) {
	s := newStore(t, embeddedJS(t), "sessions")
	ctx := t.Context()
	w, err := s.Watch(ctx, "s1", kv.WithUpdatesOnly(true))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := s.Create(ctx, "s1", []byte("token"), kv.WithTTL(time.Second)); err != nil {
		t.Fatalf("Create with TTL: %v", err)
	}
	if _, err := s.Create(ctx, "s2", []byte("x"), kv.WithTTL(time.Millisecond)); err == nil {
		t.Error("Create with a TTL under 1s = nil error")
	}
	if ev := next(t, w); ev.Op != kv.OpPut {
		t.Fatalf("first event %v, want put", ev.Op)
	}
	if ev := next(t, w); ev.Op == kv.OpPut {
		t.Fatalf("second event %v, want the key's removal", ev.Op)
	}
	if _, err := s.Get(ctx, "s1"); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("Get after TTL = %v, want ErrNotFound", err)
	}
}

func TestObjects(t *testing.T) {
	js := embeddedJS(t)
	ctx := t.Context()
	o, err := kv.NewObjects(ctx, js, "acme/artifacts")
	if err != nil {
		t.Fatal(err)
	}
	other, err := kv.NewObjects(ctx, js, "globex/artifacts")
	if err != nil {
		t.Fatal(err)
	}
	content := bytes.Repeat([]byte("wasm"), 100_000) // several chunks
	sum := sha256.Sum256(content)
	info, err := o.Put(ctx, "plugin.wasm", bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	want := kv.ObjectInfo{Name: "plugin.wasm", Size: uint64(len(content)), SHA256: hex.EncodeToString(sum[:])}
	ignore := cmpopts.IgnoreFields(kv.ObjectInfo{}, "Modified")
	if diff := cmp.Diff(want, info, ignore); diff != "" {
		t.Errorf("Put info (-want +got):\n%s", diff)
	}
	got, err := o.Info(ctx, "plugin.wasm")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, ignore); diff != "" {
		t.Errorf("Info (-want +got):\n%s", diff)
	}
	r, err := o.Get(ctx, "plugin.wasm")
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(r)
	if cerr := r.Close(); cerr != nil {
		t.Errorf("Close: %v", cerr)
	}
	if err != nil || !bytes.Equal(data, content) {
		t.Errorf("Get read %d bytes, %v; want the %d bytes put", len(data), err, len(content))
	}
	if _, err := other.Get(ctx, "plugin.wasm"); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("another namespace's Get = %v, want ErrNotFound", err)
	}
	if _, err := o.Put(ctx, "b.txt", bytes.NewReader([]byte("b"))); err != nil {
		t.Fatal(err)
	}
	list, err := o.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, in := range list {
		names = append(names, in.Name)
	}
	if diff := cmp.Diff([]string{"b.txt", "plugin.wasm"}, names); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	if list, err := other.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("another namespace's List = %v, %v; want none", list, err)
	}
	if err := o.Delete(ctx, "plugin.wasm"); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Info(ctx, "plugin.wasm"); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("Info after Delete = %v, want ErrNotFound", err)
	}
}
