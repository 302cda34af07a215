// Package natstest starts NATS servers for tests: in-process ([Embedded]),
// as an external process ([Server], [Start]) and as a JetStream cluster of
// processes ([Cluster]).
//
// # In-process
//
// [Embedded] runs nats-server inside the test binary with JetStream in
// t.TempDir() and no TCP listener; connect with
//
//	nc, err := nats.Connect("", nats.InProcessServer(natstest.Embedded(t)))
//
// # External processes
//
// [Binary] builds the nats-server executable from the same module version as
// the embedded server, once per version, into the user cache directory
// (os.UserCacheDir()/ply-natstest/<version>/), and reuses it across runs and
// across test binaries running in parallel (it builds to a temporary file and
// renames it into place). [Server] and [Start] run one process on 127.0.0.1
// with JetStream; [Cluster] and [StartCluster] run n of them routed into one
// JetStream cluster. A [*Proc] can be killed and restarted on the same ports
// and store directory, for crash tests. Every process is killed in
// t.Cleanup.
//
// # Readiness
//
// Nothing here sleeps a fixed time: readiness is polled until a deadline
// ([ReadyTimeout]). A single process is ready once it greets a TCP client
// with its INFO line (so servers that require credentials or TLS work too;
// JetStream is enabled before the server accepts clients); a cluster is
// ready once every member answers a JetStream account-info request, which
// needs a meta leader, and a stream with a replica on each can be placed.
// Create streams with [CreateStream], which also waits out a meta leader
// change.
package natstest
