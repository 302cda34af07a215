package jobqueue

import (
	"testing"

	"github.com/nats-io/nats.go"
)

// FuzzParseJob reads a job from a delivered message whose headers and
// reply subject come from anywhere (another process, another version): it
// never panics, and what it reads is a job a worker can run — a first
// attempt or later, no negative counts or timeout, an ID.
func FuzzParseJob(f *testing.F) {
	f.Add("$JS.ACK.PLY_JOBS.mail_1.3.42.40.1765090000123456789.7", "welcome-1", "2", "1", "5", "2026-12-07T10:00:00Z",
		`[{"attempt":1,"time":"2026-12-07T10:00:01Z","error":"boom"}]`, "30s", []byte(`{"to":"a@example.com"}`))
	f.Add("$JS.ACK.hub.ACCHASH.PLY_JOBS.mail_1.1.9.9.1765090000123456789.0.x1y2", "", "-3", "-1", "-7", "yesterday", `{`, "-5s", []byte(nil))
	f.Fuzz(func(t *testing.T, reply, id, attempts, interrupted, maxAttempts, enqueued, history, timeout string, payload []byte) {
		q := &Queue{cfg: config{maxAttempts: 5}}
		h := nats.Header{}
		for k, v := range map[string]string{hdrID: id, hdrAttempts: attempts, hdrInterrupted: interrupted,
			hdrMaxAttempts: maxAttempts, hdrEnqueued: enqueued, hdrHistory: history, hdrTimeout: timeout} {
			if v != "" {
				h.Set(k, v)
			}
		}
		j, d, err := q.parse("mail", Normal, pulled{m: &nats.Msg{Subject: "ply.jobs.mail", Reply: reply, Header: h, Data: payload}})
		if err != nil {
			return // not a JetStream delivery: never handed to a worker
		}
		if j.Attempt < 1 || j.Interrupted < 0 || j.MaxAttempts < 1 || d < 0 || j.ID == "" {
			t.Fatalf("parsed attempt %d, interrupted %d, max attempts %d, timeout %v, id %q: want >= 1, >= 0, >= 1, >= 0, non-empty",
				j.Attempt, j.Interrupted, j.MaxAttempts, d, j.ID)
		}
	})
}
