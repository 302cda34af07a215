package wasm_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/plykit/ply/wasm"
	"github.com/plykit/ply/wasm/abi"
)

func result(action byte, status uint64, body string, reqOps, resOps [][3]string) []byte {
	w := abi.NewWriter(nil)
	w.Byte(action)
	for _, ops := range [][][3]string{reqOps, resOps} {
		w.Uvarint(uint64(len(ops)))
		for _, o := range ops {
			w.Byte(o[0][0] - '0')
			w.String(o[1])
			w.String(o[2])
		}
	}
	w.Uvarint(status)
	w.String(body)
	w.String("")
	return w.Bytes()
}

// FuzzApplyResult fuzzes the host's decoder of a guest's layer result: no
// input panics; what it applies is only valid header fields; a response
// it accepts has a status an HTTP writer takes.
func FuzzApplyResult(f *testing.F) {
	f.Add(result(abi.Continue, 0, "", [][3]string{{"0", "X-A", "1"}, {"2", "X-B", ""}}, nil))
	f.Add(result(abi.Respond, 403, "denied\n", nil, [][3]string{{"0", "Content-Type", "text/plain"}, {"1", "X-C", "2"}}))
	f.Add(result(abi.Fail, 0, "", nil, nil))
	f.Add(result(abi.Respond, 0, "", nil, [][3]string{{"0", "Bad Name", "v"}, {"0", "X-D", "a\r\nInjected: 1"}}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		req := http.Header{}
		w := httptest.NewRecorder()
		action, status, body, err := wasm.ApplyResult(b, req, w)
		if err != nil {
			return
		}
		if action > abi.Fail {
			t.Fatalf("accepted action %d", action)
		}
		if action == abi.Respond && (status < 100 || status > 999) {
			t.Fatalf("accepted status %d", status)
		}
		if len(body) > len(b) {
			t.Fatalf("body of %d bytes from %d", len(body), len(b))
		}
		for _, h := range []http.Header{req, w.Header()} {
			for k, vs := range h {
				if k == "" || strings.ContainsAny(k, " \r\n:") {
					t.Fatalf("applied header name %q", k)
				}
				for _, v := range vs {
					if strings.ContainsAny(v, "\r\n\x00") {
						t.Fatalf("applied header value %q", v)
					}
				}
			}
		}
	})
}
