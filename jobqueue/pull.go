package jobqueue

import (
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A worker pulls jobs from its queue's three consumers with pull requests
// of its own, on one subscription that lives as long as the worker (as
// jetstream's Consume does), rather than with jetstream's Fetch, which
// subscribes anew for each batch and drops the messages that arrive after
// its client-side deadline (the server then hands them out again only
// after the ack wait). Its own requests let it keep several pulls in
// flight and count every job it asked for: each delivered message is
// held, and heartbeated, at once, and the worker never holds more than
// its capacity.
//
// The server delivers a pulled message under the subject it was stored on
// (the level is its last token) and sends a pull's status (404 no
// messages, 408 expired with the count not delivered, 409 …) to the
// request's reply subject, "<inbox>.<level>". A level's pulls end in the
// order they were sent, so the count of jobs asked for and not yet
// delivered is exact without telling the pulls apart.

// highRecheck is how long a worker busy with Normal jobs goes without asking
// High again after High was found empty: one request saved per round, for
// at most this much extra wait of a High job.
const highRecheck = 5 * time.Millisecond

// pullGrace is how long after its expiry a pull whose status never came
// (a reconnection lost it) stops counting against the worker's capacity.
const pullGrace = time.Second

// levelPulls is a worker's pulls in flight on one level.
type levelPulls struct {
	subject  string    // the consumer's next-message API subject
	reply    string    // "<inbox>.<level>"
	asked    int       // jobs asked for and not yet delivered nor expired
	inflight []pullReq // oldest first
}

// pullReq is a pull in flight.
type pullReq struct {
	n     int       // jobs asked for
	stale time.Time // when it is given up if no status came
}

// pulled is a job message delivered to a worker's subscription. It is a
// pointer underneath, so holding it in a [delivery] does not allocate.
type pulled struct{ m *nats.Msg }

func (p pulled) Data() []byte                       { return p.m.Data }
func (p pulled) Headers() nats.Header               { return p.m.Header }
func (p pulled) Reply() string                      { return p.m.Reply }
func (p pulled) Ack() error                         { return p.m.Ack() }
func (p pulled) Nak() error                         { return p.m.Nak() }
func (p pulled) NakWithDelay(d time.Duration) error { return p.m.NakWithDelay(d) }
func (p pulled) InProgress() error                  { return p.m.InProgress() }
func (p pulled) Term() error                        { return p.m.Term() }

// delivery is a delivered job message: pulled by a worker, or fetched
// with jetstream (the dead letters).
type delivery interface {
	Data() []byte
	Headers() nats.Header
	Reply() string
	Ack() error
	Nak() error
	NakWithDelay(d time.Duration) error
	InProgress() error
	Term() error
}

var (
	_ delivery = pulled{}
	_ delivery = jetstream.Msg(nil)
)

// metadata returns what a job needs of m's metadata.
func metadata(m delivery) (ackMetadata, error) {
	if md, ok := parseAckSubject(m.Reply()); ok {
		return md, nil
	}
	switch m := m.(type) {
	case pulled:
		md, err := m.m.Metadata()
		if err != nil {
			return ackMetadata{}, err
		}
		return ackMetadata{seq: md.Sequence.Stream, delivered: md.NumDelivered, time: md.Timestamp}, nil
	case jetstream.Msg:
		md, err := m.Metadata()
		if err != nil {
			return ackMetadata{}, err
		}
		return ackMetadata{seq: md.Sequence.Stream, delivered: md.NumDelivered, time: md.Timestamp}, nil
	}
	return ackMetadata{}, jetstream.ErrNotJSMessage
}

// apiPrefix returns the prefix of js's API subjects.
func apiPrefix(js jetstream.JetStream) string {
	o := js.Options()
	switch {
	case o.Domain != "":
		return "$JS." + o.Domain + ".API."
	case o.APIPrefix != "":
		return strings.TrimSuffix(o.APIPrefix, ".") + "."
	}
	return jetstream.DefaultAPIPrefix
}

// subscribe prepares the worker's pulls and the subscription that
// receives what they bring.
func (w *worker) subscribe() error {
	nc := w.q.js.Conn()
	inbox := nc.NewInbox()
	// Deliveries never exceed the jobs asked for, at most capacity(); the
	// rest is room for statuses.
	w.in = make(chan *nats.Msg, w.capacity()+16)
	sub, err := nc.ChanSubscribe(inbox+".*", w.in)
	if err != nil {
		return err
	}
	w.sub = sub
	next := apiPrefix(w.q.js) + "CONSUMER.MSG.NEXT." + w.q.cfg.stream + "."
	for _, l := range levels {
		w.pulls[l] = levelPulls{
			subject: next + w.consumerName(l),
			reply:   inbox + "." + strconv.Itoa(int(l)),
		}
	}
	return nil
}

func (w *worker) consumerName(l Level) string { return w.queue + "_" + strconv.Itoa(int(l)) }

// fetchLoop pulls jobs while there is room, takes them as they arrive and
// heartbeats the held ones, until the worker stops fetching. It asks for
// jobs whenever refill() slots are free of held jobs and of jobs asked
// for: first of High, with a request that answers at once (unless High
// was empty less than highRecheck ago); then, once High answered, of
// Normal, with a request that waits up to the idle wait; and of Low, at
// once, only after such a request expired without a job. A High job waits
// at most for the Normal pull in flight (the idle wait, or until its jobs
// arrived) plus highRecheck; Low jobs wait while Normal has any.
func (w *worker) fetchLoop() {
	defer close(w.fetcherDone)
	defer close(w.ready) // the runners finish what is held, then return
	defer w.unsubscribe()
	beat := time.NewTicker(w.q.cfg.ackWait / 3)
	defer beat.Stop()
	wake := time.NewTimer(time.Hour)
	defer wake.Stop()
	var wakeAt time.Time // when wake fires
	var highEmpty time.Time // when High was last asked, or found empty; zero: it had jobs
	normalEmpty := false    // a Normal pull expired without a job since Low was last asked
	var pause time.Time     // no pulls before, after a failed one
	for w.fetchCtx.Err() == nil {
		now := time.Now()
		w.expireStale(now)
		if free := w.capacity() - w.numHeld() - w.asked(); free >= w.refill() && !now.Before(pause) && w.pulls[High].asked == 0 {
			switch {
			case highEmpty.IsZero() || now.Sub(highEmpty) >= highRecheck:
				highEmpty = now
				pause = w.pull(High, free, 0)
			case normalEmpty && w.pulls[Low].asked == 0:
				normalEmpty = false
				pause = w.pull(Low, free, 0)
			default:
				pause = w.pull(Normal, free, w.cfg.idle)
			}
		}
		if next := w.nextWake(now, pause); !next.IsZero() && next != wakeAt {
			wakeAt = next
			wake.Reset(max(next.Sub(now), time.Millisecond))
		}
		select {
		case m := <-w.in:
			for more := true; more; { // take what came, then look again
				l, status, empty := w.receive(m)
				switch {
				case status == "" && l == High:
					highEmpty = time.Time{}
				case status != "" && l == Normal && empty:
					normalEmpty = true
				}
				select {
				case m = <-w.in:
				default:
					more = false
				}
			}
		case <-w.freed:
		case <-beat.C:
			w.heartbeat()
		case <-wake.C:
			wakeAt = time.Time{}
		case <-w.fetchCtx.Done():
		}
	}
}

// asked is the number of jobs asked for on every level.
func (w *worker) asked() int {
	return w.pulls[High].asked + w.pulls[Normal].asked + w.pulls[Low].asked
}

// pull asks level l for n jobs, waiting up to expires for them (0: answer
// at once), and returns when the next pull may be sent: now, or after the
// idle wait if this one could not be sent.
func (w *worker) pull(l Level, n int, expires time.Duration) (pause time.Time) {
	lp := &w.pulls[l]
	req := make([]byte, 0, 64)
	req = append(req, `{"batch":`...)
	req = strconv.AppendInt(req, int64(n), 10)
	if expires > 0 {
		req = append(req, `,"expires":`...)
		req = strconv.AppendInt(req, int64(expires), 10)
	} else {
		req = append(req, `,"no_wait":true`...)
	}
	req = append(req, '}')
	now := time.Now()
	if err := w.q.js.Conn().PublishRequest(lp.subject, lp.reply, req); err != nil {
		if w.fetchCtx.Err() == nil {
			w.q.cfg.logger.Warn("jobqueue: pull", "queue", w.queue, "level", l, "err", err)
		}
		return now.Add(w.cfg.idle)
	}
	lp.asked += n
	lp.inflight = append(lp.inflight, pullReq{n: n, stale: now.Add(expires + pullGrace)})
	return time.Time{}
}

// receive takes a job message, or settles a pull with its status. It
// returns the level of either, the status ("" for a job), and whether the
// pull that ended delivered nothing.
func (w *worker) receive(m *nats.Msg) (l Level, status string, empty bool) {
	l = Normal
	if s := m.Subject; s != "" { // a job's ready subject, or a status's "<inbox>.<level>"
		if d := s[len(s)-1]; d >= '0' && d <= '2' {
			l = Level(d - '0')
		}
	}
	if len(m.Data) == 0 && m.Header != nil {
		if status = m.Header.Get("Status"); status != "" {
			return l, status, w.settle(l, m, status)
		}
	}
	lp := &w.pulls[l]
	if lp.asked > 0 {
		lp.asked--
		if lp.asked == 0 {
			lp.inflight = lp.inflight[:0] // delivered in full: no status comes
		}
	}
	w.take(l, pulled{m})
	return l, "", false
}

// settle ends the oldest pull in flight of level l as its status says,
// and reports whether it delivered nothing.
func (w *worker) settle(l Level, m *nats.Msg, status string) (empty bool) {
	lp := &w.pulls[l]
	if status == "100" || len(lp.inflight) == 0 { // an idle heartbeat; or a pull given up
		return false
	}
	oldest := lp.inflight[0]
	undelivered := -1
	switch status {
	case "408": // expired; also a no_wait pull that other pulls' demand outran
		if n, err := strconv.Atoi(m.Header.Get("Nats-Pending-Messages")); err == nil {
			undelivered = n
		}
	case "404": // a no_wait pull found no more jobs
	default: // 409 leadership change, consumer deleted…: every pull of l is over
		if w.fetchCtx.Err() == nil {
			w.q.cfg.logger.Warn("jobqueue: pull", "queue", w.queue, "level", l,
				"status", status, "description", m.Header.Get("Description"))
		}
		lp.inflight, lp.asked = lp.inflight[:0], 0
		return false
	}
	if undelivered < 0 { // a no_wait pull, alone in flight on its level
		undelivered = lp.asked
	}
	lp.inflight = lp.inflight[1:]
	lp.asked = max(0, lp.asked-undelivered)
	if len(lp.inflight) == 0 {
		lp.inflight, lp.asked = lp.inflight[:0], 0
	}
	return undelivered >= oldest.n
}

// expireStale gives up the pulls whose status is overdue: their jobs no
// longer count as asked for (any that come are taken all the same).
func (w *worker) expireStale(now time.Time) {
	for i := range w.pulls {
		lp := &w.pulls[i]
		if len(lp.inflight) > 0 && now.After(lp.inflight[0].stale) {
			lp.inflight, lp.asked = lp.inflight[:0], 0
		}
	}
}

// nextWake is when the fetch loop must look again without news: when a
// pull is overdue, or the pause after a failed pull ends (zero: never).
func (w *worker) nextWake(now, pause time.Time) time.Time {
	var next time.Time
	if pause.After(now) {
		next = pause
	}
	for i := range w.pulls {
		if lp := &w.pulls[i]; len(lp.inflight) > 0 && (next.IsZero() || lp.inflight[0].stale.Before(next)) {
			next = lp.inflight[0].stale
		}
	}
	return next
}

// unsubscribe ends the subscription and takes the jobs it had received:
// they are held, and run, as the ones taken before.
func (w *worker) unsubscribe() {
	_ = w.sub.Unsubscribe()
	for {
		select {
		case m := <-w.in:
			w.receive(m)
		default:
			return
		}
	}
}

// take queues a delivered job for the runners. It waits for a runner only
// when a pull given up as stale delivered after all.
func (w *worker) take(l Level, m delivery) {
	hj := &held{msg: m, level: l, since: time.Now()}
	w.mu.Lock()
	w.held[hj] = struct{}{}
	w.mu.Unlock()
	w.ready <- hj
}
