package natstest_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/plykit/ply/internal/natstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// publish stores one message in a fresh stream through nc.
func publish(t *testing.T, nc *nats.Conn, replicas int) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	natstest.CreateStream(t, js, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: replicas})
	// A replicated stream answers only once its servers learnt of each
	// other's interest in its subjects: until then a publish finds no
	// responders, which the client retries.
	settled := []jetstream.PublishOpt{jetstream.WithRetryAttempts(100), jetstream.WithRetryWait(50 * time.Millisecond)}
	if _, err := js.Publish(t.Context(), "t.1", []byte("x"), settled...); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

func TestEmbedded(t *testing.T) {
	s := natstest.Embedded(t)
	if s.Addr() != nil {
		t.Errorf("Addr() = %v, want nil: no TCP listener", s.Addr())
	}
	nc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	publish(t, nc, 1)
}

func TestServerKillRestart(t *testing.T) {
	p := natstest.Start(t)
	nc, err := nats.Connect(p.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	publish(t, nc, 1)

	p.Kill()
	p.Restart(t)
	nc2, err := nats.Connect(p.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	js, err := jetstream.New(nc2)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(t.Context(), "T")
	if err != nil {
		t.Fatalf("stream after restart: %v", err)
	}
	if got := s.CachedInfo().State.Msgs; got != 1 {
		t.Errorf("messages after kill -9 and restart = %d, want 1", got)
	}
}

func TestCluster(t *testing.T) {
	urls := natstest.Cluster(t, 3)
	if len(urls) != 3 {
		t.Fatalf("Cluster(3) returned %d URLs", len(urls))
	}
	nc, err := nats.Connect(urls[0])
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	publish(t, nc, 3)
}
