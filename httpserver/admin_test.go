package httpserver_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"testing"

	"github.com/plykit/ply"
	"github.com/plykit/ply/httpserver"
	"github.com/plykit/ply/plytest"
)

// adminHost starts a server with opts, a failing plugin and a plugin that
// mounts /metrics with Handle.
func adminHost(t *testing.T, opts httpserver.Options) *httpserver.Server {
	t.Helper()
	opts.Addr = "127.0.0.1:0"
	srv := httpserver.New(opts)
	db := ply.Func{Meta: ply.Info{Name: "db", Version: "1.0.0"}, OnHealth: func(context.Context) error {
		return errors.New("dial 10.1.2.3:5432: password authentication failed for user app")
	}}
	metrics := ply.Func{Meta: ply.Info{Name: "metrics", Version: "1.0.0", Requires: []ply.Dependency{{Name: "httpserver"}}},
		OnProvision: func(_ context.Context, s *ply.Setup) error {
			srv, err := ply.Lookup(s, httpserver.Key)
			if err != nil {
				return err
			}
			srv.Handle("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("requests 1\n")) }))
			return nil
		}}
	plytest.New(t, []ply.Plugin{srv, db, metrics}, ply.WithLogger(discard()))
	return srv
}

// The plugins' endpoints and the readiness details are for the operators:
// on the admin listener (loopback unless told otherwise) when there is
// one, and the readiness answer on Addr names no plugin unless asked.
func TestAdminEndpoints(t *testing.T) {
	const details = "not ready:\nplugin db@1.0.0 is failed: dial 10.1.2.3:5432: password authentication failed for user app\n"
	for _, tt := range []struct {
		name        string
		opts        httpserver.Options
		main, admin map[string]string // path -> "status body"
	}{
		{name: "defaults", opts: httpserver.Options{},
			main: map[string]string{"/metrics": "200 requests 1\n", "/readyz": "503 not ready\n", "/healthz": "200 ok\n"}},
		{name: "details asked", opts: httpserver.Options{ReadyDetails: true},
			main: map[string]string{"/readyz": "503 " + details}},
		{name: "admin listener", opts: httpserver.Options{AdminAddr: ":0"},
			main:  map[string]string{"/metrics": "404 404 page not found\n", "/readyz": "503 not ready\n", "/healthz": "200 ok\n"},
			admin: map[string]string{"/metrics": "200 requests 1\n", "/readyz": "503 " + details, "/healthz": "200 ok\n"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := adminHost(t, tt.opts)
			check := func(base string, want map[string]string) {
				for path, w := range want {
					code, body := get(t, base+path)
					if strconv.Itoa(code)+" "+body != w {
						t.Errorf("GET %s%s = %d %q, want %q", base, path, code, body, w)
					}
				}
			}
			check("http://"+srv.Addr().String(), tt.main)
			if tt.admin == nil {
				if srv.AdminAddr() != nil {
					t.Errorf("AdminAddr() = %v without the option, want nil", srv.AdminAddr())
				}
				return
			}
			tcp, ok := srv.AdminAddr().(*net.TCPAddr)
			if !ok || !tcp.IP.IsLoopback() {
				t.Fatalf("admin listener on %v, want loopback for an address without a host", srv.AdminAddr())
			}
			check("http://"+tcp.String(), tt.admin)
		})
	}
}
