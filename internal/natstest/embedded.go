package natstest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ReadyTimeout bounds how long the helpers wait for a server to accept
// connections (and, for processes, for JetStream to answer).
const ReadyTimeout = 30 * time.Second

// Embedded starts an in-process nats-server with JetStream, its store in
// t.TempDir() and no TCP listener (DontListen), and returns it once it is
// ready for connections. It is shut down, and waited for, in t.Cleanup.
// Connect with nats.Connect("", nats.InProcessServer(s)).
func Embedded(t testing.TB) *server.Server {
	t.Helper()
	return EmbeddedWith(t, nil)
}

// EmbeddedWith is [Embedded] with the server options adjusted by configure
// (nil for none) before the server starts: configure sees JetStream, the
// store directory and DontListen already set.
func EmbeddedWith(t testing.TB, configure func(*server.Options)) *server.Server {
	t.Helper()
	opts := &server.Options{
		ServerName: "natstest",
		JetStream:  true,
		StoreDir:   t.TempDir(),
		DontListen: true,
		NoLog:      true,
		NoSigs:     true,
	}
	if configure != nil {
		configure(opts)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("natstest: new embedded server: %v", err)
	}
	s.Start()
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	if !s.ReadyForConnections(ReadyTimeout) {
		t.Fatalf("natstest: embedded server not ready within %v", ReadyTimeout)
	}
	return s
}
