package backbone_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/plykit/ply/backbone"
	"github.com/plykit/ply/internal/natstest"
)

// TestExternalCredsFile runs a server in operator mode (decentralized JWT
// auth) and connects with a user's credentials file.
func TestExternalCredsFile(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	operator, err := nkeys.CreateOperator()
	must(err)
	opub, err := operator.PublicKey()
	must(err)
	ojwt, err := jwt.NewOperatorClaims(opub).Encode(operator)
	must(err)

	account, err := nkeys.CreateAccount()
	must(err)
	apub, err := account.PublicKey()
	must(err)
	ajwt, err := jwt.NewAccountClaims(apub).Encode(operator)
	must(err)

	sys, err := nkeys.CreateAccount() // JetStream needs a system account
	must(err)
	spub, err := sys.PublicKey()
	must(err)
	sjwt, err := jwt.NewAccountClaims(spub).Encode(operator)
	must(err)

	user, err := nkeys.CreateUser()
	must(err)
	upub, err := user.PublicKey()
	must(err)
	ujwt, err := jwt.NewUserClaims(upub).Encode(account)
	must(err)
	seed, err := user.Seed()
	must(err)
	creds, err := jwt.FormatUserConfig(ujwt, seed)
	must(err)
	credsFile := filepath.Join(dir, "user.creds")
	must(os.WriteFile(credsFile, creds, 0o600))

	conf := filepath.Join(dir, "server.conf")
	must(os.WriteFile(conf, []byte("operator: "+ojwt+"\nsystem_account: "+spub+
		"\nresolver: MEMORY\nresolver_preload: {\n  "+apub+": "+ajwt+"\n  "+spub+": "+sjwt+"\n}\n"), 0o600))
	url := natstest.Server(t, "-c", conf)

	if nc, err := nats.Connect(url); err == nil {
		nc.Close()
		t.Fatal("server accepts clients without credentials")
	}
	_, bb, u := start(t, backbone.Options{URLs: []string{url}, CredsFile: credsFile})
	if err := u.nc.Publish("hello", nil); err != nil {
		t.Fatal(err)
	}
	if err := u.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := bb.Health(t.Context()); err != nil {
		t.Errorf("Health = %v", err)
	}
}

func TestExternalMissingCredsFile(t *testing.T) {
	url := natstest.Server(t)
	err := startErr(t, backbone.Options{URLs: []string{url}, CredsFile: filepath.Join(t.TempDir(), "none.creds")})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Start = %v, want fs.ErrNotExist", err)
	}
}
