package guest

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/plykit/ply/wasm/abi"
)

// The kit's encoders, checked against the abi package the host decodes
// with: the exports that call them only build for wasip1.

func TestManifestRoundTrip(t *testing.T) {
	var deny []string
	var n int
	p := &Plugin{Name: "deny", Version: "1.2.3", Priority: 100, Kinds: []string{"http"},
		Requires: []Dependency{{Name: "auth", Constraint: "^1", Optional: true}}, Before: []string{"cache"},
		Options: []Option{Strings("deny", &deny, Required(), Min(1)), Int("status", &n, Min(400), Max(599), Describe("the status"))},
		Layer:   func(*Request, *Response) {}}
	m, err := abi.DecodeManifest(manifest(p))
	if err != nil {
		t.Fatal(err)
	}
	lo, hi, one := 400.0, 599.0, 1.0
	want := &abi.Manifest{ABI: abi.Version, Name: "deny", Version: "1.2.3", Priority: 100, Kinds: []string{"http"},
		Requires: []abi.Dependency{{Name: "auth", Constraint: "^1", Optional: true}}, Before: []string{"cache"},
		Options: []abi.Field{{Name: "deny", Type: abi.TypeStrings, Required: true, Min: &one},
			{Name: "status", Type: abi.TypeInt, Min: &lo, Max: &hi, Description: "the status"}}}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("manifest (-want +got):\n%s", diff)
	}
}

func TestSetOptions(t *testing.T) {
	var (
		s     = "default"
		deny  []string
		n     int
		on    bool
		f     float64
		inits int
	)
	p := &Plugin{Options: []Option{String("s", &s), Strings("deny", &deny), Int("n", &n), Bool("on", &on), Float("f", &f)},
		Init: func() error { inits++; return nil }}
	w := abi.NewWriter(nil)
	w.Uvarint(4)
	w.Uvarint(1)
	w.Uvarint(2)
	w.String("a")
	w.String("b")
	w.Uvarint(2)
	w.Varint(-7)
	w.Uvarint(3)
	w.Bool(true)
	w.Uvarint(4)
	w.Float(1.5)
	if err := setOptions(p, w.Bytes()); err != nil {
		t.Fatal(err)
	}
	if s != "default" || !cmp.Equal(deny, []string{"a", "b"}) || n != -7 || !on || f != 1.5 || inits != 1 {
		t.Errorf("got s=%q deny=%q n=%d on=%v f=%v inits=%d", s, deny, n, on, f, inits)
	}
	bad := abi.NewWriter(nil)
	bad.Uvarint(1)
	bad.Uvarint(9)
	if err := setOptions(p, bad.Bytes()); err == nil {
		t.Error("an option index out of range: no error")
	}
}

func TestRequestAndResponse(t *testing.T) {
	w := abi.NewWriter(nil)
	for _, s := range []string{"http", "site", "GET /x", "GET", "/x?a=1"} {
		w.String(s)
	}
	w.Uvarint(2)
	w.String("X-User")
	w.String("bob")
	w.String("Accept")
	w.String("*/*")
	w.BytesField([]byte("body"))
	var r Request
	if err := r.decode(w.Bytes()); err != nil {
		t.Fatal(err)
	}
	if r.Kind != "http" || r.Target != "/x?a=1" || r.Header("x-user") != "bob" || !bytes.Equal(r.Body(), []byte("body")) {
		t.Errorf("decoded %+v", r)
	}
	var res Response
	res.reset()
	res.SetRequestHeader("A", "1")
	res.DelRequestHeader("B")
	res.SetHeader("C", "3")
	res.AddHeader("C", "4")
	res.Respond(403, []byte("no"))
	rd := abi.NewReader(res.encode(nil))
	if rd.Byte() != abi.Respond || rd.Uvarint() != 2 {
		t.Fatal("bad action or request edits")
	}
	for range 2 {
		rd.Byte()
		rd.Bytes()
		rd.Bytes()
	}
	if rd.Uvarint() != 2 {
		t.Fatal("bad response edits")
	}
	for range 2 {
		rd.Byte()
		rd.Bytes()
		rd.Bytes()
	}
	if st, body, msg := rd.Uvarint(), string(rd.Bytes()), rd.String(); st != 403 || body != "no" || msg != "" || rd.Err() != nil || rd.Len() != 0 {
		t.Errorf("status %d body %q message %q err %v", st, body, msg, rd.Err())
	}
	res.reset()
	res.Fail("nope")
	rd = abi.NewReader(res.encode(nil))
	if rd.Byte() != abi.Fail {
		t.Error("Fail: wrong action")
	}
}

func TestFetchMessages(t *testing.T) {
	msg := encodeFetch("POST", "https://api.example.com/x", [][2]string{{"A", "1"}}, []byte("in"))
	r := abi.NewReader(msg)
	if r.String() != "POST" || r.String() != "https://api.example.com/x" || r.Uvarint() != 1 || r.String() != "A" || r.String() != "1" || string(r.Bytes()) != "in" {
		t.Error("fetch request message")
	}
	w := abi.NewWriter(nil)
	w.Uvarint(200)
	w.Uvarint(1)
	w.String("Content-Type")
	w.String("text/plain")
	w.BytesField([]byte("out"))
	res, err := decodeFetch(w.Bytes())
	if err != nil || res.Status != 200 || string(res.Body) != "out" || res.Headers[0] != [2]string{"Content-Type", "text/plain"} {
		t.Errorf("fetch response %+v, %v", res, err)
	}
	if errNoPlugin == nil {
		t.Error("errNoPlugin")
	}
}
