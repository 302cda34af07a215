// Package backbone is the NATS engine of a ply host: a plugin that runs an
// embedded nats-server with JetStream (the default) or connects to external
// NATS servers, and provides the connection and a JetStream handle to the
// plugins that require it.
//
// # Use
//
// Register [New] and require "backbone" in the plugins that need NATS; they
// look the APIs up in their Provision:
//
//	nc, err := ply.Lookup(s, backbone.Conn)
//	js, err := ply.Lookup(s, backbone.JetStream)
//
// # Embedded or external
//
// With no [Options.URLs], Provision starts nats-server in the process, with
// JetStream storing in [Options.DataDir], and connects to it in-process: no
// TCP port is opened unless [Options.Listen] asks for one. A port needs
// [Options.User] and [Options.Password] (or [Options.Token]), which the
// server then requires of every client: without them, the backbone refuses
// to start rather than open the JetStream API (KV buckets, jobs, streams)
// to anyone who can connect. The start-up time is logged
// ("backbone ready", "startup") and available from [Plugin.StartupDuration].
//
// With URLs, no server is started: Provision connects to them (with the
// credentials and TLS options given), retrying a failed first connection
// with exponential backoff until its context is done; refused credentials
// and TLS errors fail at once, as retrying cannot fix them. Once connected,
// the client reconnects forever.
//
// # Data directory
//
// The embedded server keeps its streams, jobs and KV buckets in
// [Options.DataDir]; by default [DefaultDataDir], $XDG_DATA_HOME/ply/backbone
// or ~/.local/share/ply/backbone: a data directory, not a cache one, as the
// data is durable. One server at a time may use a directory. Provision
// takes an operating-system lock on the file ply-backbone.lock inside it,
// which the system releases when the process ends, even by kill -9; a
// second server on the directory, in this process or another, fails with
// an error matching [ErrDataDirInUse] that names the directory and the
// process holding it. Give each host its own directory.
//
// # Lifecycle
//
// The server starts and the connection opens in Provision, not Start: ply
// provisions a plugin's dependencies before it, so a dependent can use the
// connection in its own Provision. What Provision acquires, Cleanup
// releases: it drains the connection, then shuts the embedded server down,
// waits for it and releases the data directory. The backbone has no Stop hook on purpose: ply runs every
// Stop before any Cleanup, and Cleanups in reverse lifecycle order, so the
// connection stays usable through the Stop and the Cleanup of every plugin
// that requires the backbone, and closes only after them. A start that
// fails and rolls back cleans up the same way.
//
// # Health
//
// [Plugin.Health] is nil while connected, an error matching
// [ply.ErrDegraded] while the client reconnects, and [ErrClosed] once the
// connection is closed.
package backbone
