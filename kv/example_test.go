package kv_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plykit/ply/kv"
)

// jetStream starts an in-process server for an example; a plugin gets
// JetStream from the backbone instead, and a test from plytest.NATS.
func jetStream() (jetstream.JetStream, func()) {
	dir, err := os.MkdirTemp("", "kv-example")
	if err != nil {
		panic(err)
	}
	s, err := server.NewServer(&server.Options{JetStream: true, StoreDir: dir, DontListen: true, NoLog: true, NoSigs: true})
	if err != nil {
		panic(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		panic("server not ready")
	}
	nc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		panic(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		panic(err)
	}
	return js, func() {
		nc.Close()
		s.Shutdown()
		s.WaitForShutdown()
		_ = os.RemoveAll(dir) // best-effort cleanup of a temporary directory
	}
}

// Compare-and-set: an update at a stale revision fails with ErrConflict.
func ExampleStore_Update() {
	js, stop := jetStream()
	defer stop()
	ctx := context.Background()

	users, err := kv.New(ctx, js, "acme/users")
	if err != nil {
		panic(err)
	}
	rev, _ := users.Put(ctx, "ann", []byte("admin"))
	_, err = users.Update(ctx, "ann", []byte("owner"), rev)
	fmt.Println("first update:", err)
	_, err = users.Update(ctx, "ann", []byte("guest"), rev)
	fmt.Println("stale update conflicts:", errors.Is(err, kv.ErrConflict))
	e, _ := users.Get(ctx, "ann")
	fmt.Printf("%s = %s\n", e.Key, e.Value)
	// Output:
	// first update: <nil>
	// stale update conflicts: true
	// ann = owner
}

// Each tenant's plugin has its own bucket; the mapping is injective.
func ExampleBucket() {
	for _, parts := range [][]string{{"acme", "cache"}, {"globex", "cache"}, {"acme_2fcache"}} {
		ns, _ := kv.Namespace(parts...)
		b, _ := kv.Bucket(ns)
		fmt.Printf("%-14s %s\n", ns, b)
	}
	// Output:
	// acme/cache     ply_kv_acme_2fcache
	// globex/cache   ply_kv_globex_2fcache
	// acme_2fcache   ply_kv_acme_5f2fcache
}
