package backbone_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/plykit/ply"
	"github.com/plykit/ply/backbone"
	"github.com/plykit/ply/internal/natstest"
)

func TestExternalAuth(t *testing.T) {
	pki := newPKI(t)
	for _, tt := range []struct {
		name    string
		args    []string
		opts    backbone.Options
		wantErr error
	}{
		{name: "user and password", args: []string{"--user", "ply", "--pass", "s3cret"},
			opts: backbone.Options{User: "ply", Password: "s3cret"}},
		{name: "wrong password", args: []string{"--user", "ply", "--pass", "s3cret"},
			opts: backbone.Options{User: "ply", Password: "nope"}, wantErr: nats.ErrAuthorization},
		{name: "token", args: []string{"--auth", "t0ken"}, opts: backbone.Options{Token: "t0ken"}},
		{name: "no credentials", args: []string{"--auth", "t0ken"}, wantErr: nats.ErrAuthorization},
		{name: "mutual TLS", args: pki.serverArgs,
			opts: backbone.Options{TLS: backbone.TLS{CAFile: pki.ca, CertFile: pki.cert, KeyFile: pki.key}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			o.URLs = []string{natstest.Server(t, tt.args...)}
			if tt.wantErr == nil {
				_, bb, u := start(t, o)
				durable(t, u.js, 1)
				if err := bb.Health(t.Context()); err != nil {
					t.Errorf("Health = %v", err)
				}
				return
			}
			if err := startErr(t, o); !errors.Is(err, tt.wantErr) {
				t.Errorf("Start = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// startErr starts a host with the backbone, which must fail within a
// second (errors that retrying cannot fix fail at once), and returns the
// error.
func startErr(t *testing.T, o backbone.Options) error {
	t.Helper()
	h, err := ply.New([]ply.Plugin{backbone.New(o)},
		ply.WithLogger(slog.New(slog.DiscardHandler)),
		ply.WithTimeout(ply.OpProvision, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	err = h.Start(context.Background())
	if err == nil {
		t.Fatal("Start = nil error")
	}
	return err
}

// pki is a certificate authority, a server certificate for 127.0.0.1 and
// a client certificate, as PEM files.
type pki struct {
	ca, cert, key string   // the CA, and the client's certificate and key
	serverArgs    []string // nats-server flags for TLS that verifies clients
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ply test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	p := pki{ca: writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)}
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) (certFile, keyFile string) {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: name},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return writePEM(t, dir, name+".pem", "CERTIFICATE", der), writePEM(t, dir, name+"-key.pem", "EC PRIVATE KEY", kb)
	}
	srvCert, srvKey := leaf("server", 2, x509.ExtKeyUsageServerAuth)
	p.cert, p.key = leaf("client", 3, x509.ExtKeyUsageClientAuth)
	p.serverArgs = []string{"--tlsverify", "--tlscert", srvCert, "--tlskey", srvKey, "--tlscacert", p.ca}
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
