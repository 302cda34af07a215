package jobqueue

import (
	"log/slog"
	"strconv"
	"testing"
	"time"

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

// testWorker returns a worker with room for 8 jobs (refill at 4) whose
// pulls are counted but not sent.
func testWorker(t *testing.T) *worker {
	t.Helper()
	w := &worker{
		q:        &Queue{cfg: config{ackWait: DefaultAckWait, logger: slog.New(slog.DiscardHandler)}},
		queue:    "q",
		cfg:      handleConfig{concurrency: 1, prefetch: 7, idle: 200 * time.Millisecond},
		fetchCtx: t.Context(),
		news:     make(chan struct{}, 1),
		held:     make(map[*held]struct{}),
	}
	for _, l := range levels {
		w.ready[l] = make(chan *held, w.capacity())
		w.pulls[l].reply = "in." + strconv.Itoa(int(l)) + "."
	}
	return w
}

// mustPull counts the pull the worker wants at now, and checks it.
func (w *worker) mustPull(t *testing.T, now time.Time, wantLevel Level, wantN int) uint64 {
	t.Helper()
	l, id, n, _ := w.nextPull(now, time.Time{})
	if n != wantN || (n > 0 && l != wantLevel) {
		t.Fatalf("nextPull = %d jobs of %v, want %d of %v", n, l, wantN, wantLevel)
	}
	return id
}

func job(l Level) *nats.Msg {
	return &nats.Msg{Subject: "ply.jobs.ready.q." + strconv.Itoa(int(l)), Data: []byte("x")}
}

func status(l Level, id uint64, code string, pending int) *nats.Msg {
	h := nats.Header{"Status": {code}}
	if pending >= 0 {
		h["Nats-Pending-Messages"] = []string{strconv.Itoa(pending)}
	}
	return &nats.Msg{Subject: "in." + strconv.Itoa(int(l)) + "." + strconv.FormatUint(id, 10), Header: h}
}

// runAll stands for the runners: it takes every held job off the worker.
func (w *worker) runAll() {
	for _, ch := range w.ready {
		for len(ch) > 0 {
			delete(w.held, <-ch)
		}
	}
}

func (w *worker) wantAsked(t *testing.T, high, normal, low int) {
	t.Helper()
	if got := [3]int{w.pulls[High].asked, w.pulls[Normal].asked, w.pulls[Low].asked}; got != [3]int{high, normal, low} {
		t.Fatalf("asked = %v, want %v", got, [3]int{high, normal, low})
	}
}

// The worker asks High first, then Normal, then Low after an empty
// Normal pull; it never asks for more than its room, and each status
// settles its own pull.
func TestPullAccounting(t *testing.T) {
	w := testWorker(t)
	now := time.Now()
	id := w.mustPull(t, now, High, 8)
	w.deliver(status(High, id, "404", -1))
	w.wantAsked(t, 0, 0, 0)
	id = w.mustPull(t, now, Normal, 8) // High was empty just now
	for range 3 {
		w.deliver(job(Normal))
	}
	w.wantAsked(t, 0, 5, 0)
	w.mustPull(t, now, 0, 0) // no room: 3 held, 5 asked for
	w.deliver(status(Normal, id, "408", 5))
	w.wantAsked(t, 0, 0, 0)

	now = now.Add(highRecheck)
	id = w.mustPull(t, now, High, 5)
	w.deliver(job(High))
	w.deliver(status(High, id, "404", -1))
	if !w.highEmpty.IsZero() {
		t.Error("High had a job, yet counts as empty")
	}
	w.wantAsked(t, 0, 0, 0)
	id = w.mustPull(t, now, High, 4) // High had jobs: asked again
	w.deliver(status(High, id, "404", -1))
	id = w.mustPull(t, now, Normal, 4)
	w.deliver(status(Normal, id, "408", 4)) // expired without a job
	now = now.Add(highRecheck)
	id = w.mustPull(t, now, High, 4)
	w.deliver(status(High, id, "404", -1))
	id = w.mustPull(t, now, Low, 4)
	w.deliver(status(Low, id, "404", -1))
	w.wantAsked(t, 0, 0, 0)
	if n := len(w.held); n != 4 {
		t.Errorf("held %d jobs, want 4", n)
	}
}

// Pulls delivered in full get no status: the count stays exact while
// others are in flight, and forgetting one at its deadline does not
// reset it. A status lost for good is forgotten once no pull is left.
func TestPullDeliveredInFull(t *testing.T) {
	w := testWorker(t)
	now := time.Now()
	w.highEmpty = now
	a := w.mustPull(t, now, Normal, 8)
	for range 4 {
		w.deliver(job(Normal))
	}
	w.runAll()
	b := w.mustPull(t, now.Add(time.Millisecond), Normal, 4)
	w.wantAsked(t, 0, 8, 0)
	for range 4 { // a's last 4: a is done, without a status
		w.deliver(job(Normal))
	}
	w.runAll()
	w.wantAsked(t, 0, 4, 0)
	w.expireStale(now.Add(w.cfg.idle + pullGrace + time.Nanosecond)) // a's deadline, not b's
	w.wantAsked(t, 0, 4, 0)
	w.deliver(status(Normal, a, "408", 0)) // forgotten: ignored
	w.wantAsked(t, 0, 4, 0)
	w.deliver(status(Normal, b, "408", 4))
	w.wantAsked(t, 0, 0, 0)
	if !w.normalEmpty {
		t.Error("b expired without a job, yet Normal does not count as empty")
	}

	later := now.Add(time.Second)
	w.highEmpty, w.normalEmpty = later, false
	w.mustPull(t, later, Normal, 8)
	for range 6 {
		w.deliver(job(Normal))
	}
	w.wantAsked(t, 0, 2, 0)
	w.expireStale(later.Add(w.cfg.idle + pullGrace + time.Nanosecond)) // its 408 was lost
	w.wantAsked(t, 0, 0, 0)
}
