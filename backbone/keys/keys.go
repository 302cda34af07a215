// Package keys declares the typed APIs the backbone plugin provides, for
// plugins that look them up: importing it does not import the backbone,
// and with it the embedded NATS server, into their binaries.
package keys

import (
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/plykit/ply"
)

var (
	// Conn is the backbone's NATS connection. Dependents must not close or
	// drain it.
	Conn = ply.NewKey[*nats.Conn]("backbone.conn")
	// JetStream is the JetStream API on [Conn].
	JetStream = ply.NewKey[jetstream.JetStream]("backbone.jetstream")
)
