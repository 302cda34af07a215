package httpserver_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/option"
)

// A bad address is found at plan time, with no socket, and the error names
// the plugin, the field and the fix.
func TestAddrValidatedAtPlan(t *testing.T) {
	for _, tt := range []struct {
		name, yaml string
		wantErr    bool
	}{
		{name: "host and port", yaml: "addr: 127.0.0.1:8080\n"},
		{name: "any free port", yaml: "addr: ':0'\n"},
		{name: "ipv6", yaml: "addr: '[::1]:8080'\n"},
		{name: "named port", yaml: "addr: localhost:http\n"},
		{name: "no port", yaml: "addr: not-an-addr\n", wantErr: true},
		{name: "port out of range", yaml: "addr: 127.0.0.1:70000\n", wantErr: true},
		{name: "admin without port", yaml: "adminAddr: localhost\n", wantErr: true},
		{name: "admin port", yaml: "adminAddr: ':9090'\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ply.New([]ply.Plugin{httpserver.New(httpserver.Options{})}, ply.WithLogger(discard()),
				ply.WithOptions("httpserver", ply.RawOptions{File: "ply.yaml", Data: []byte(tt.yaml)}))
			if err == nil {
				_, err = h.Plan()
			}
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Plan() with %q = %v, want no error", tt.yaml, err)
				}
				return
			}
			ce, ok := errors.AsType[*option.Error](err)
			if !ok {
				t.Fatalf("Plan() with %q = %v, want a *option.Error", tt.yaml, err)
			}
			field := strings.SplitN(tt.yaml, ":", 2)[0]
			if ce.Plugin != "httpserver" || ce.Field != field || ce.Line != 1 || !strings.Contains(ce.Problem, "host:port") {
				t.Errorf("option.Error = %+v, want plugin httpserver, field %s at line 1, and the fix (host:port)", *ce, field)
			}
		})
	}
}
