package jobqueue

import (
	"testing"

	"github.com/nats-io/nats.go"
)

// parseAckSubject reads what nats.go's parser reads, without allocating,
// and refuses what it refuses.
func TestParseAckSubject(t *testing.T) {
	for _, tt := range []struct {
		name, reply string
		ok          bool
	}{
		{name: "v1", reply: "$JS.ACK.PLY_JOBS.mail_1.3.42.40.1765090000123456789.7", ok: true},
		{name: "v2", reply: "$JS.ACK.hub.ACCHASH.PLY_JOBS.mail_1.3.42.40.1765090000123456789.7", ok: true},
		{name: "v2 with token", reply: "$JS.ACK._.ACCHASH.PLY_JOBS.mail_1.1.9.9.1765090000123456789.0.x1y2", ok: true},
		{name: "short names", reply: "$JS.ACK.S.C.1.2.3.4.5", ok: true},
		{name: "not an ack", reply: "_INBOX.abc.1"},
		{name: "too few tokens", reply: "$JS.ACK.PLY_JOBS.mail_1.3.42"},
		{name: "too many tokens", reply: "$JS.ACK.a.b.c.d.1.2.3.4.5.6.7.8"},
		{name: "not a number", reply: "$JS.ACK.PLY_JOBS.mail_1.three.42.40.1765090000123456789.7"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseAckSubject(tt.reply)
			if ok != tt.ok {
				t.Fatalf("parseAckSubject(%q) ok = %v, want %v", tt.reply, ok, tt.ok)
			}
			if !ok {
				return
			}
			m := &nats.Msg{Reply: tt.reply, Sub: &nats.Subscription{}}
			md, err := m.Metadata()
			if err != nil {
				t.Fatalf("nats.go cannot read %q: %v", tt.reply, err)
			}
			want := ackMetadata{seq: md.Sequence.Stream, delivered: md.NumDelivered, time: md.Timestamp}
			if got.seq != want.seq || got.delivered != want.delivered || !got.time.Equal(want.time) {
				t.Errorf("parseAckSubject(%q) = %+v, want %+v", tt.reply, got, want)
			}
			if allocs := testing.AllocsPerRun(10, func() { parseAckSubject(tt.reply) }); allocs != 0 {
				t.Errorf("parseAckSubject allocates %v times, want 0", allocs)
			}
		})
	}
}
