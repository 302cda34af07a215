package jobqueue

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plykit/ply"
	"github.com/plykit/ply/backbone"
)

// The queue looks JetStream up under its own copy of the backbone's key,
// so that the package does not link the backbone's embedded server; the
// copy must stay the backbone's key.
func TestJetStreamKeyIsTheBackbones(t *testing.T) {
	k := [2]ply.Key[jetstream.JetStream]{jetStreamKey, backbone.JetStream} // of one type, or this does not compile
	if k[0].Name() != k[1].Name() || k[0].Plugin() != k[1].Plugin() {
		t.Errorf("jetStreamKey = %v, want the backbone's %v", jetStreamKey, backbone.JetStream)
	}
}
