package lock_test

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"aead.dev/minisign"
	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply/market/lock"
)

type signer struct {
	pub  minisign.PublicKey
	priv minisign.PrivateKey
}

func newSigner(t testing.TB) signer {
	t.Helper()
	pub, priv, err := minisign.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signer{pub, priv}
}

// entry returns a signed entry for artifact as name@version.
func (s signer) entry(name, version string, artifact []byte) lock.Entry {
	return lock.Entry{Name: name, Version: version, SHA256: lock.Hash(artifact),
		Signature: lock.Sign(s.priv, name, version, artifact), Key: s.pub.String(), Source: "https://registry.example"}
}

func TestParseRoundTrip(t *testing.T) {
	s := newSigner(t)
	l := &lock.Lock{}
	l.Set(s.entry("zeta", "1.0.0", []byte("z")))
	l.Set(s.entry("alpha", "0.2.1", []byte("a")))
	l.Set(s.entry("alpha", "0.3.0", []byte("a3"))) // replaces 0.2.1
	got, err := lock.Parse(l.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"alpha@0.3.0", "zeta@1.0.0"}, ids(got)); diff != "" {
		t.Errorf("plugins (-want +got):\n%s", diff)
	}
	if !got.Remove("zeta") || got.Remove("zeta") {
		t.Error("Remove did not report the entry once")
	}
}

func ids(l *lock.Lock) []string {
	var out []string
	for _, e := range l.Plugins {
		out = append(out, e.ID())
	}
	return out
}

func TestParseRefuses(t *testing.T) {
	s, other := newSigner(t), newSigner(t)
	good := s.entry("auth", "1.0.0", []byte("x"))
	foreign := good
	foreign.Signature = lock.Sign(other.priv, "auth", "1.0.0", []byte("x"))
	for _, tt := range []struct {
		name, data, want string
	}{
		{name: "not json", data: "plugins = 1", want: "lockfile: invalid character"},
		{name: "unknown field", data: `{"version":1,"plugins":[],"extra":1}`, want: `unknown field "extra"`},
		{name: "trailing data", data: `{"version":1,"plugins":[]} {}`, want: "data after the end"},
		{name: "format version", data: `{"version":2,"plugins":[]}`, want: "format version 2"},
		{name: "bad name", data: lockOf(withName(good, "../etc")), want: `name "../etc"`},
		{name: "bad version", data: lockOf(withVersion(good, "1.0")), want: `plugin auth: version "1.0" is not semver`},
		{name: "upper-case hash", data: lockOf(withHash(good, strings.ToUpper(good.SHA256))), want: "want 64 lower-case hex digits"},
		{name: "bad key", data: lockOf(withKey(good, "RWnope")), want: "plugin auth: key: not a minisign public key"},
		{name: "bad signature", data: lockOf(withSig(good, "garbage")), want: "plugin auth: signature: not a minisign signature"},
		{name: "signature by another key", data: lockOf(foreign), want: "plugin auth: the signature is by key"},
		{name: "twice", data: lockOf(good, good), want: "plugin auth is locked twice"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := lock.Parse([]byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse() error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func lockOf(es ...lock.Entry) string {
	l := &lock.Lock{Version: 1, Plugins: es}
	return string(l.Marshal())
}

func withName(e lock.Entry, v string) lock.Entry    { e.Name = v; return e }
func withVersion(e lock.Entry, v string) lock.Entry { e.Version = v; return e }
func withHash(e lock.Entry, v string) lock.Entry    { e.SHA256 = v; return e }
func withKey(e lock.Entry, v string) lock.Entry     { e.Key = v; return e }
func withSig(e lock.Entry, v string) lock.Entry     { e.Signature = v; return e }

func TestCacheLoad(t *testing.T) {
	s, other := newSigner(t), newSigner(t)
	artifact := []byte("\x00asm module bytes")
	good := s.entry("auth", "1.0.0", artifact)
	wrongKey := good
	wrongKey.Key = other.pub.String()
	wrongKey.Signature = lock.Sign(other.priv, "auth", "1.0.0", []byte("other bytes"))
	otherVersion := good
	otherVersion.Version = "2.0.0"
	for _, tt := range []struct {
		name    string
		entry   lock.Entry
		tamper  bool
		wantErr error
		want    string
	}{
		{name: "good", entry: good},
		{name: "tampered", entry: good, tamper: true, wantErr: lock.ErrHash, want: "plugin auth@1.0.0: artifact does not match its sha256"},
		{name: "wrong key", entry: wrongKey, wantErr: lock.ErrSignature, want: "does not match the artifact's bytes"},
		{name: "signed as another version", entry: otherVersion, wantErr: lock.ErrSignature, want: `is for "ply auth@1.0.0", not "ply auth@2.0.0"`},
		{name: "missing", entry: s.entry("gone", "1.0.0", []byte("never cached")), wantErr: lock.ErrMissing, want: "plugin gone@1.0.0: artifact not in the cache"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := lock.Cache{Dir: t.TempDir()}
			sum, err := c.Put(artifact)
			if err != nil {
				t.Fatal(err)
			}
			if tt.tamper {
				if err := os.WriteFile(c.Path(sum), append([]byte{1}, artifact...), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			path, err := c.Load(tt.entry)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Load() error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				if ve, ok := errors.AsType[*lock.VerifyError](err); !ok || ve.Plugin != tt.entry.Name {
					t.Errorf("Load() error = %#v, want a *VerifyError naming %s", err, tt.entry.Name)
				}
				if !strings.Contains(err.Error(), tt.want) {
					t.Errorf("Load() error = %q, want it to contain %q", err, tt.want)
				}
				return
			}
			if path != filepath.Join(c.Dir, "sha256", sum+".wasm") {
				t.Errorf("Load() = %s, want the content-addressed path", path)
			}
		})
	}
}

func TestWriteRead(t *testing.T) {
	s := newSigner(t)
	path := filepath.Join(t.TempDir(), lock.Name)
	want := &lock.Lock{Version: lock.FormatVersion}
	want.Set(s.entry("auth", "1.0.0", []byte("a")))
	if err := lock.Write(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := lock.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Read() (-want +got):\n%s", diff)
	}
}

func FuzzParse(f *testing.F) {
	s := newSigner(f)
	f.Add(lockOf(s.entry("auth", "1.0.0", []byte("x")), s.entry("b", "0.0.1-rc.1", []byte("y"))))
	f.Add(`{"version":1,"plugins":[]}`)
	f.Add(`{"version":1,"plugins":[{"name":"a"}]}`)
	f.Fuzz(func(t *testing.T, data string) {
		l, err := lock.Parse([]byte(data))
		if err != nil {
			return
		}
		again, err := lock.Parse(l.Marshal())
		if err != nil {
			t.Fatalf("a parsed lockfile does not parse again: %v", err)
		}
		want := ids(l)
		slices.Sort(want) // Marshal sorts by name, and names are unique
		if diff := cmp.Diff(want, ids(again)); diff != "" {
			t.Fatalf("round trip (-parsed +again):\n%s", diff)
		}
	})
}

func TestCheck(t *testing.T) {
	s := newSigner(t)
	l := &lock.Lock{}
	greeter := s.entry("greeter", "1.0.0", []byte("g"))
	greeter.Requires = []lock.Dependency{{Name: "tagger", Constraint: "^1"}, {Name: "log", Optional: true}}
	l.Set(greeter)
	if diff := cmp.Diff([]string{"plugin greeter@1.0.0 requires tagger ^1, which is not locked: run ply plugin install tagger"}, errStrings(l.Check())); diff != "" {
		t.Errorf("Check() without tagger (-want +got):\n%s", diff)
	}
	l.Set(s.entry("tagger", "2.0.0", []byte("t")))
	if diff := cmp.Diff([]string{"plugin greeter@1.0.0 requires tagger ^1, but tagger@2.0.0 is locked: run ply plugin update"}, errStrings(l.Check())); diff != "" {
		t.Errorf("Check() with tagger 2 (-want +got):\n%s", diff)
	}
	l.Set(s.entry("tagger", "1.4.0", []byte("t")))
	if errs := l.Check(); len(errs) != 0 {
		t.Errorf("Check() = %v, want nothing", errs)
	}
	if diff := cmp.Diff([]string{"greeter@1.0.0"}, l.Dependents("tagger")); diff != "" {
		t.Errorf("Dependents(tagger) (-want +got):\n%s", diff)
	}
	if got := l.Dependents("log"); len(got) != 0 {
		t.Errorf("Dependents(log) = %v: an optional requirement is no dependent", got)
	}
}

func errStrings(errs []error) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}
