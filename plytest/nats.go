package plytest

import (
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/plykit/ply/internal/natstest"
)

// NATS starts an in-process NATS server with JetStream (its store in
// t.TempDir(), no TCP listener) and returns a connection to it. The
// connection is closed, and the server shut down, when the test ends. Use
// jetstream.New on the connection for JetStream.
func NATS(t testing.TB) *nats.Conn {
	t.Helper()
	s := natstest.Embedded(t)
	nc, err := nats.Connect("", nats.InProcessServer(s), nats.Name(t.Name()))
	if err != nil {
		t.Fatalf("plytest: connect to the in-process NATS server: %v", err)
	}
	t.Cleanup(nc.Close) // runs before the server's shutdown (cleanups run last-in first-out)
	return nc
}
