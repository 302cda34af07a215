package eventbus

import (
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/plykit/ply"
	"github.com/plykit/ply/backbone"
)

// The bus looks the connection up under its own copy of the backbone's
// key, so that the package does not link the backbone's embedded server;
// the copy must stay the backbone's key.
func TestConnKeyIsTheBackbones(t *testing.T) {
	k := [2]ply.Key[*nats.Conn]{connKey, backbone.Conn} // of one type, or this does not compile
	if k[0].Name() != k[1].Name() || k[0].Plugin() != k[1].Plugin() {
		t.Errorf("connKey = %v, want the backbone's %v", connKey, backbone.Conn)
	}
}
