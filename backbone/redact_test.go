package backbone_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plykit/ply"
	"github.com/plykit/ply/backbone"
	"github.com/plykit/ply/internal/natstest"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A URL's password (or token) appears in no error and no log line: the
// URLs are logged and reported redacted, still naming the user and host.
func TestURLCredentialsRedacted(t *testing.T) {
	closed := natstest.Start(t)
	closed.Kill() // its port now refuses connections: Provision retries, and logs each retry
	closedHost := strings.TrimPrefix(closed.URL(), "nats://")
	authHost := strings.TrimPrefix(natstest.Server(t, "--user", "ply", "--pass", "right-password"), "nats://")
	for _, tt := range []struct {
		name, url, secret, want string
	}{
		{name: "password, retried", url: "nats://ply:pw-s3cret@" + closedHost, secret: "pw-s3cret", want: "nats://ply:xxxxx@" + closedHost},
		{name: "token, retried", url: "nats://tok-s3cret@" + closedHost, secret: "tok-s3cret", want: "nats://xxxxx@" + closedHost},
		{name: "no scheme, retried", url: "ply:pw-s3cret@" + closedHost, secret: "pw-s3cret", want: "ply:xxxxx@" + closedHost},
		{name: "password refused", url: "nats://ply:wrong-s3cret@" + authHost, secret: "wrong-s3cret", want: "nats://ply:xxxxx@" + authHost},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs syncBuffer
			h, err := ply.New([]ply.Plugin{backbone.New(backbone.Options{URLs: []string{tt.url}})},
				ply.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
				ply.WithTimeout(ply.OpProvision, 700*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			err = h.Start(context.Background())
			if err == nil {
				_ = h.Stop(context.Background())
				t.Fatal("Start = nil error")
			}
			if strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error shows the secret: %v", err)
			}
			if !strings.Contains(err.Error()+logs.String(), tt.want) {
				t.Errorf("neither the error nor the log names the redacted URL %s\nerror: %v\nlog:\n%s", tt.want, err, logs.String())
			}
			if strings.Contains(logs.String(), tt.secret) {
				t.Errorf("log shows the secret:\n%s", logs.String())
			}
			if strings.Contains(tt.name, "retried") && !strings.Contains(logs.String(), "retrying") {
				t.Errorf("no retry logged:\n%s", logs.String())
			}
		})
	}
}
