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
// held, and heartbeated, at once, and the worker holds at most its
// capacity.
//
// The server delivers a pulled message under the subject it was stored on
// (the level is its last token), spreading a level's messages over its
// pulls in flight, and sends a pull's status (404 no messages, 408
// expired with the count not delivered, 409 …) to the pull's reply
// subject, "<inbox>.<level>.<n>". So a level counts the jobs asked for and
// not yet delivered as a whole, and each status settles its own pull. A
// pull delivered in full gets no status: it is forgotten at its deadline,
// and when nothing is asked for on its level any more.

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
	reply    string    // "<inbox>.<level>.", the prefix of the pulls' reply subjects
	asked    int       // jobs asked for and not yet delivered nor expired
	inflight []pullReq // oldest first
}

// pullReq is a pull in flight.
type pullReq struct {
	id    uint64    // its reply subject's last token
	n     int       // jobs asked for
	stale time.Time // when it is forgotten if no status came
}

// pulled is a job message delivered to a worker's subscription. It is a
// pointer underneath, so holding it in a [delivery] does not allocate; it
// acknowledges by replying to the message, as jetstream does.
type pulled struct{ m *nats.Msg }

// Acknowledgements, as the server reads them.
var (
	ackAck      = []byte("+ACK")
	ackNak      = []byte("-NAK")
	ackProgress = []byte("+WPI")
	ackTerm     = []byte("+TERM")
)

func (p pulled) Data() []byte         { return p.m.Data }
func (p pulled) Headers() nats.Header { return p.m.Header }
func (p pulled) Reply() string        { return p.m.Reply }
func (p pulled) Ack() error           { return p.m.Respond(ackAck) }
func (p pulled) Nak() error           { return p.m.Respond(ackNak) }
func (p pulled) InProgress() error    { return p.m.Respond(ackProgress) }
func (p pulled) Term() error          { return p.m.Respond(ackTerm) }

func (p pulled) NakWithDelay(d time.Duration) error {
	return p.m.Respond([]byte(`-NAK {"delay": ` + strconv.FormatInt(int64(d), 10) + "}"))
}

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
	sub, err := nc.Subscribe(inbox+".>", w.deliver)
	if err != nil {
		return err
	}
	w.sub = sub
	w.cbDone = make(chan struct{}, 1)
	next := apiPrefix(w.q.js) + "CONSUMER.MSG.NEXT." + w.q.cfg.stream + "."
	for _, l := range levels {
		w.pulls[l] = levelPulls{
			subject: next + w.consumerName(l),
			reply:   inbox + "." + strconv.Itoa(int(l)) + ".",
		}
	}
	return nil
}

func (w *worker) consumerName(l Level) string { return w.queue + "_" + strconv.Itoa(int(l)) }

// fetchLoop pulls jobs while there is room and heartbeats the held ones,
// until the worker stops fetching; deliver takes the jobs as they arrive.
// It asks for jobs whenever refill() slots are free of held jobs and of
// jobs asked for: first of High, with a request that answers at once
// (unless High was empty less than highRecheck ago); then, once High
// answered, of Normal, with a request that waits up to the idle wait; and
// of Low, at once, only after such a request expired without a job. A
// High job waits at most for the Normal pull in flight (the idle wait, or
// until its jobs arrived) plus highRecheck; Low jobs wait while Normal
// has any.
func (w *worker) fetchLoop() {
	defer close(w.fetcherDone)
	defer func() { // the runners finish what is held, then return
		for _, ch := range w.ready {
			close(ch)
		}
	}()
	defer w.unsubscribe()
	beat := time.NewTicker(w.q.cfg.ackWait / 3)
	defer beat.Stop()
	wake := time.NewTimer(time.Hour)
	defer wake.Stop()
	var wakeAt time.Time // when wake fires
	var pause time.Time  // no pulls before, after a failed one
	for w.fetchCtx.Err() == nil {
		now := time.Now()
		w.mu.Lock()
		w.expireStale(now)
		l, id, n, expires := w.nextPull(now, pause)
		next := w.nextWake(now, pause)
		w.mu.Unlock()
		if n > 0 {
			if err := w.pull(l, id, n, expires); err != nil {
				if w.fetchCtx.Err() == nil {
					w.q.cfg.logger.Warn("jobqueue: pull", "queue", w.queue, "level", l, "err", err)
				}
				pause = now.Add(w.cfg.idle)
				next = pause
			}
		}
		if !next.IsZero() && next != wakeAt {
			wakeAt = next
			wake.Reset(max(next.Sub(now), time.Millisecond))
		}
		select {
		case <-w.news:
		case <-beat.C:
			w.heartbeat()
		case <-wake.C:
			wakeAt = time.Time{}
		case <-w.fetchCtx.Done():
		}
	}
}

// free is the number of slots neither held nor asked for. w.mu is held.
func (w *worker) free() int {
	return w.capacity() - len(w.held) - w.pulls[High].asked - w.pulls[Normal].asked - w.pulls[Low].asked
}

// nextPull returns the pull to send now, if any (n > 0), and counts its
// jobs as asked for under its id. w.mu is held.
func (w *worker) nextPull(now, pause time.Time) (l Level, id uint64, n int, expires time.Duration) {
	n = w.free()
	if n < w.refill() || now.Before(pause) || w.pulls[High].asked > 0 {
		return 0, 0, 0, 0
	}
	switch {
	case w.highEmpty.IsZero() || now.Sub(w.highEmpty) >= highRecheck:
		w.highEmpty = now // until a High job says otherwise
		l = High
	case w.normalEmpty && w.pulls[Low].asked == 0:
		w.normalEmpty = false
		l = Low
	default:
		l, expires = Normal, w.cfg.idle
	}
	lp := &w.pulls[l]
	lp.asked += n
	w.pullID++
	lp.inflight = append(lp.inflight, pullReq{id: w.pullID, n: n, stale: now.Add(expires + pullGrace)})
	return l, w.pullID, n, expires
}

// pull asks level l for n jobs, counted by nextPull as the pull id,
// waiting up to expires for them (0: answer at once). If the request
// cannot be sent, the jobs no longer count.
func (w *worker) pull(l Level, id uint64, n int, expires time.Duration) error {
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
	err := w.q.js.Conn().PublishRequest(lp.subject, lp.reply+strconv.FormatUint(id, 10), req)
	if err != nil {
		w.mu.Lock()
		if lp.forget(id) {
			lp.asked = max(0, lp.asked-n)
		}
		w.mu.Unlock()
	}
	return err
}

// forget removes pull id from those in flight, and reports whether it was.
func (lp *levelPulls) forget(id uint64) bool {
	for i, p := range lp.inflight {
		if p.id == id {
			lp.inflight = append(lp.inflight[:i], lp.inflight[i+1:]...)
			return true
		}
	}
	return false
}

// deliver is the subscription's callback: it holds a delivered job and
// queues it for the runners, or settles a pull with its status.
func (w *worker) deliver(m *nats.Msg) {
	var status string
	if len(m.Data) == 0 && m.Header != nil {
		status = m.Header.Get("Status")
	}
	if status != "" {
		w.mu.Lock()
		settled := !w.subClosed && status != "100" && w.settle(m.Subject, m.Header, status) // 100: an idle heartbeat
		w.mu.Unlock()
		if settled {
			w.notify()
		}
		if status != "100" && status != "404" && status != "408" && w.fetchCtx.Err() == nil {
			w.q.cfg.logger.Warn("jobqueue: pull", "queue", w.queue, "subject", m.Subject,
				"status", status, "description", m.Header.Get("Description"))
		}
		return
	}
	l := Normal // the last token of its ready subject
	if s := m.Subject; s != "" {
		if d := s[len(s)-1]; d >= '0' && d <= '2' {
			l = Level(d - '0')
		}
	}
	w.mu.Lock()
	if w.subClosed { // stopped: for another worker
		w.mu.Unlock()
		_ = pulled{m}.Nak()
		return
	}
	lp := &w.pulls[l]
	if lp.asked > 0 {
		lp.asked--
		if lp.asked == 0 {
			lp.inflight = lp.inflight[:0] // delivered in full: no status comes
		}
	}
	if l == High {
		w.highEmpty = time.Time{}
	}
	hj := &held{msg: pulled{m}, level: l, since: time.Now()}
	w.held[hj] = struct{}{}
	select {
	case w.ready[l] <- hj: // at most capacity() are held, unless a pull given up delivers
		w.mu.Unlock()
		return
	default:
	}
	w.cbActive = true // unsubscribe waits for this send
	w.mu.Unlock()
	w.ready[l] <- hj
	w.mu.Lock()
	w.cbActive = false
	closed := w.subClosed
	w.mu.Unlock()
	if closed {
		w.cbDone <- struct{}{}
	}
}

// settle ends the pull whose reply subject is subj as its status says. It
// reports whether that pull was in flight. w.mu is held.
func (w *worker) settle(subj string, h nats.Header, status string) bool {
	var lp *levelPulls
	for i := range w.pulls {
		if strings.HasPrefix(subj, w.pulls[i].reply) {
			lp = &w.pulls[i]
			break
		}
	}
	if lp == nil {
		return false
	}
	id, err := strconv.ParseUint(subj[len(lp.reply):], 10, 64)
	if err != nil {
		return false
	}
	var p pullReq
	for _, q := range lp.inflight {
		if q.id == id {
			p = q
		}
	}
	if p.id == 0 || !lp.forget(id) { // forgotten already: the count is reset or will be
		return false
	}
	undelivered := -1
	switch status {
	case "408": // expired; also a no_wait pull that other pulls' demand outran
		if n, err := strconv.Atoi(h.Get("Nats-Pending-Messages")); err == nil {
			undelivered = n
		}
	case "404": // a no_wait pull found no more jobs
	default: // 409 leadership change, consumer deleted…: every pull of the level is over
		lp.inflight, lp.asked = lp.inflight[:0], 0
		return true
	}
	if undelivered < 0 { // a no_wait pull, alone in flight on its level
		undelivered = lp.asked
	}
	if lp == &w.pulls[Normal] && undelivered >= p.n {
		w.normalEmpty = true
	}
	lp.asked = max(0, lp.asked-undelivered)
	if len(lp.inflight) == 0 {
		lp.asked = 0
	}
	return true
}

// notify wakes the fetch loop: there may be room for a pull.
func (w *worker) notify() {
	select {
	case w.news <- struct{}{}:
	default:
	}
}

// expireStale forgets the pulls whose status is overdue: delivered in
// full, most likely. When no pull of a level is left, nothing is asked
// for on it: a status that a reconnection lost is not counted for ever.
// w.mu is held.
func (w *worker) expireStale(now time.Time) {
	for i := range w.pulls {
		lp := &w.pulls[i]
		k := 0
		for k < len(lp.inflight) && now.After(lp.inflight[k].stale) {
			k++
		}
		if k > 0 {
			lp.inflight = append(lp.inflight[:0], lp.inflight[k:]...)
			if len(lp.inflight) == 0 {
				lp.asked = 0
			}
		}
	}
}

// nextWake is when the fetch loop must look again without news: when a
// pull is overdue, or the pause after a failed pull ends (zero: never).
// w.mu is held.
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

// drainWait bounds how long a stopping worker waits for the jobs its
// pulls delivered before they ended.
const drainWait = 2 * time.Second

// unsubscribe ends the subscription: it drains it, so that the jobs the
// server delivered before it learnt of the end are held and run as the
// others, then waits for a delivery in progress. A job delivered later
// (when the drain takes over drainWait, or in the instant it ends) is
// released at once ("-NAK") for another worker.
func (w *worker) unsubscribe() {
	closed := w.sub.StatusChanged(nats.SubscriptionClosed)
	if err := w.sub.Drain(); err == nil {
		t := time.NewTimer(drainWait)
		select {
		case <-closed:
		case <-t.C:
		}
		t.Stop()
	}
	w.mu.Lock()
	w.subClosed = true
	active := w.cbActive
	w.mu.Unlock()
	_ = w.sub.Unsubscribe()
	if active {
		<-w.cbDone
	}
}
