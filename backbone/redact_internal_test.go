package backbone

import "testing"

func TestRedact(t *testing.T) {
	//nolint:gosec // G101: made-up credentials, to be redacted
	for _, tt := range []struct{ name, in, want string }{
		{name: "no credentials", in: "nats://h:4222", want: "nats://h:4222"},
		{name: "password", in: "nats://ply:s3cret@h:4222", want: "nats://ply:xxxxx@h:4222"},
		{name: "token", in: "tls://t0ken@h:4222", want: "tls://xxxxx@h:4222"},
		{name: "no scheme", in: "ply:s3cret@h:4222", want: "ply:xxxxx@h:4222"},
		{name: "unescaped @ in password", in: "nats://ply:s3@cret@h:4222", want: "nats://ply:xxxxx@h:4222"},
		{name: "list", in: "nats://a:pw1@h1:4222,nats://h2:4222,nats://tok@h3:4222",
			want: "nats://a:xxxxx@h1:4222,nats://h2:4222,nats://xxxxx@h3:4222"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := redact(tt.in); got != tt.want {
				t.Errorf("redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
