package backbone

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/plykit/ply/option"
)

// Options configure the backbone. The zero value runs an embedded server
// with JetStream in [DefaultDataDir], with the server's default limits, no
// TCP listener and the engine's default sync policy.
type Options struct {
	// DataDir is where the embedded server stores JetStream data.
	// Default: [DefaultDataDir], ~/.local/share/ply/backbone. One embedded
	// server at a time may use a directory (another process's, or another
	// in this one): the second fails with [ErrDataDirInUse].
	DataDir string `json:"dataDir,omitempty"`
	// MaxMemory limits JetStream memory storage, in bytes. Default (0): the
	// server's default, 75% of the system memory.
	MaxMemory int64 `json:"maxMemory,omitempty" jsonschema:"minimum=0"`
	// MaxStore limits JetStream file storage, in bytes. Default (0): the
	// server's default, 1 TiB or 75% of the disk.
	MaxStore int64 `json:"maxStore,omitempty" jsonschema:"minimum=0"`
	// Listen opens a TCP client port on the embedded server, such as
	// "127.0.0.1:4222". Default: none; the host connects in-process. It
	// requires User and Password, or Token: a port without them would open
	// the whole JetStream API (KV, jobs, streams) to anyone who can
	// connect, so the backbone refuses to start.
	Listen string `json:"listen,omitempty"`
	// Sync is the embedded server's fsync policy: "" (the engine's default,
	// a periodic sync) or "always" (fsync every write; slower, survives a
	// power loss).
	Sync string `json:"sync,omitempty" jsonschema:"enum=,enum=always"`

	// URLs are external servers (or members of a cluster) to connect to,
	// such as "nats://nats-1:4222". When set, no embedded server runs, and
	// DataDir, MaxMemory, MaxStore, Listen and Sync must be empty. A URL
	// may carry credentials ("nats://user:password@host:4222"); logs and
	// errors show it with the password (or token) replaced by "xxxxx".
	URLs []string `json:"urls,omitempty"`
	// CredsFile is a NATS credentials file (JWT and NKey seed), for
	// external servers.
	CredsFile string `json:"credsFile,omitempty"`
	// User and Password authenticate with a user name and password. With
	// an embedded server, the server requires them of every client (Listen
	// requires them, or Token).
	User     string `json:"user,omitempty"`
	Password string `json:"password,omitempty"`
	// Token authenticates with a token; like User, an embedded server
	// requires it of every client.
	Token string `json:"token,omitempty"`
	// TLS configures TLS to external servers.
	TLS TLS `json:"tls,omitzero"`

	// Name is the connection's name, as servers show it. Default: "ply".
	Name string `json:"name,omitempty"`
}

// TLS names the PEM files for TLS connections to external servers.
type TLS struct {
	// CAFile holds the certificate authorities that sign the servers'
	// certificates. Default: the system's.
	CAFile string `json:"caFile,omitempty"`
	// CertFile and KeyFile are the client's certificate and key, for
	// servers that verify clients. Set both or neither.
	CertFile string `json:"certFile,omitempty"`
	KeyFile  string `json:"keyFile,omitempty"`
}

// DefaultDataDir returns the embedded server's default data directory:
// $XDG_DATA_HOME/ply/backbone when XDG_DATA_HOME is an absolute path, else
// ply/backbone in the user's data directory, ~/.local/share (home from
// [os.UserHomeDir]). It returns an error when there is no home directory;
// set [Options.DataDir] then. The data is durable (streams, jobs, KV
// buckets), so it lives in a data directory, not a cache one that may be
// cleared. One embedded server at a time may use a directory: see
// [ErrDataDirInUse].
func DefaultDataDir() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(d) { // the XDG spec ignores relative paths
		return filepath.Join(d, "ply", "backbone"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("backbone: no default data directory: set the backbone's dataDir option, or XDG_DATA_HOME: %w", err)
	}
	return filepath.Join(home, ".local", "share", "ply", "backbone"), nil
}

// oldDefaultDataDir is where earlier releases kept the data by default, in
// the cache directory.
func oldDefaultDataDir() string {
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "ply", "backbone")
	}
	return filepath.Join(os.TempDir(), "ply-backbone")
}

// Validate checks what the schema cannot express; the host calls it before
// Provision and reports each problem as a [*option.Error].
func (o *Options) Validate() error {
	var errs []error
	bad := func(field, problem string) { errs = append(errs, &option.Error{Field: field, Problem: problem}) }
	for i, u := range o.URLs {
		if err := checkURL(u); err != nil {
			bad("urls["+strconv.Itoa(i)+"]", err.Error())
		}
	}
	if len(o.URLs) > 0 {
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"dataDir", o.DataDir != ""}, {"maxMemory", o.MaxMemory != 0}, {"maxStore", o.MaxStore != 0},
			{"listen", o.Listen != ""}, {"sync", o.Sync != ""},
		} {
			if f.set {
				bad(f.name, "applies to the embedded server only: remove it, or remove urls")
			}
		}
	}
	if len(o.URLs) == 0 {
		if o.CredsFile != "" {
			bad("credsFile", "applies to external servers only: set urls, or use user and password")
		}
		if o.TLS != (TLS{}) {
			bad("tls", "applies to external servers only: set urls, or remove tls")
		}
	}
	if o.Listen != "" && len(o.URLs) == 0 && o.Token == "" && (o.User == "" || o.Password == "") {
		// Every client of the port would reach the whole JetStream API:
		// KV buckets, jobs, streams.
		bad("listen", "opens the embedded server's JetStream API (KV, jobs, streams) to anyone who can connect: "+
			"set user and password (or token), which the server then requires of every client, or remove listen")
	}
	if o.Listen != "" {
		if _, port, err := net.SplitHostPort(o.Listen); err != nil {
			bad("listen", `must be "host:port", such as "127.0.0.1:4222"`)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			bad("listen", "port must be a number from 0 to 65535")
		}
	}
	if o.Token != "" && (o.User != "" || o.CredsFile != "") {
		bad("token", "use one of token, user and password, or credsFile")
	}
	if o.User != "" && o.CredsFile != "" {
		bad("user", "use one of token, user and password, or credsFile")
	}
	if o.Password != "" && o.User == "" {
		bad("user", "must be set with password")
	}
	if (o.TLS.CertFile == "") != (o.TLS.KeyFile == "") {
		bad("tls", "set both certFile and keyFile, or neither")
	}
	return errors.Join(errs...)
}

// checkURL accepts what nats.Connect accepts: "host:port" or a URL with a
// nats, tls, ws or wss scheme and a host.
func checkURL(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	if !strings.Contains(s, "://") {
		s = "nats://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return errors.New(`must be a URL such as "nats://host:4222"`)
	}
	switch u.Scheme {
	case "nats", "tls", "ws", "wss":
	default:
		return errors.New(`scheme must be nats, tls, ws or wss, such as "nats://host:4222"`)
	}
	if u.Hostname() == "" {
		return errors.New(`must name a host, such as "nats://host:4222"`)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return errors.New("port must be a number from 1 to 65535")
		}
	}
	return nil
}
