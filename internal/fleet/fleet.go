// Package fleet keeps a fleet's configuration in a JetStream key-value
// bucket: the hosts' ply.yaml as revisions of one key, pushed with
// optimistic concurrency, and each host's report of the revision it
// serves, one key per host.
//
// # Keys
//
// The bucket is the [kv] namespace "fleet" (the JetStream bucket
// "ply_kv_fleet"), or another namespace ([Open]'s namespace). The key
// "config" holds the configuration: each write is a revision, numbered by
// the bucket. The key "status.<host>" holds the [Status] of a host as
// JSON.
//
// # Pushing
//
// [Fleet.Push] writes a revision only if the key is still at the revision
// the pusher read (or absent, for 0): a pusher working from a stale
// revision is refused with [ErrStale], and nothing is written.
//
// # Watching
//
// [Fleet.Watch] delivers the current revision and every later one, in
// order; a host applies each (a reload) and [Fleet.Report]s what it serves
// afterwards. A host that refuses a revision keeps the configuration and
// the generation it had, and says why in [Status.Error].
package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/plykit/ply/kv"
)

// Namespace is the default [kv] namespace of the fleet's bucket.
const Namespace = "fleet"

// ConfigKey is the key whose revisions are the fleet's configuration.
const ConfigKey = "config"

const statusPrefix = "status."

// MaxSize bounds a revision, as the config loader bounds a file: 256 KiB.
const MaxSize = 256 << 10

// maxStatusSize bounds a status value read from the bucket.
const maxStatusSize = 64 << 10

// Errors of the fleet.
var (
	// ErrStale: the configuration is no longer at the revision the push
	// was based on; read the current one and push again.
	ErrStale = errors.New("fleet: the configuration changed since the revision the push was based on")
	// ErrNoRevision: nothing has been pushed yet.
	ErrNoRevision = errors.New("fleet: no configuration pushed yet")
	// ErrHostID: a host ID that cannot be a key.
	ErrHostID = errors.New("fleet: invalid host id")
	// ErrTooLarge: a revision over [MaxSize].
	ErrTooLarge = errors.New("fleet: configuration over 256 KiB")
)

// Fleet is the fleet's bucket. It is safe for concurrent use.
type Fleet struct {
	store *kv.Store
	js    jetstream.JetStream
}

// Open opens the fleet's bucket in namespace ([Namespace] when empty) on
// js, creating it with the given number of replicas (1, 3 or 5) if it does
// not exist. On a cluster that is still forming, it waits for the bucket to
// be placed.
func Open(ctx context.Context, js jetstream.JetStream, namespace string, replicas int) (*Fleet, error) {
	if namespace == "" {
		namespace = Namespace
	}
	opts := []kv.Option{}
	if replicas > 0 {
		opts = append(opts, kv.WithReplicas(replicas))
	}
	s, err := kv.New(ctx, js, namespace, opts...)
	if err != nil {
		return nil, err
	}
	return &Fleet{store: s, js: js}, nil
}

// Bucket returns the name of the JetStream bucket.
func (f *Fleet) Bucket() string { return f.store.Bucket() }

// Revision is one revision of the configuration.
type Revision struct {
	Number  uint64    // the bucket's revision of the key: increasing, never reused
	Data    []byte    // the ply.yaml
	Created time.Time // when it was pushed
}

// Name is how a revision is named in errors and logs, in place of a file
// name: "fleet:ply_kv_fleet/config@7".
func (f *Fleet) Name(rev uint64) string {
	return fmt.Sprintf("fleet:%s/%s@%d", f.store.Bucket(), ConfigKey, rev)
}

// Current returns the current revision, or an error matching
// [ErrNoRevision].
func (f *Fleet) Current(ctx context.Context) (Revision, error) {
	e, err := f.store.Get(ctx, ConfigKey)
	if errors.Is(err, kv.ErrNotFound) {
		return Revision{}, ErrNoRevision
	}
	if err != nil {
		return Revision{}, err
	}
	return Revision{Number: e.Revision, Data: e.Value, Created: e.Created}, nil
}

// Push writes data as the next revision if the configuration is still at
// revision last (0: nothing pushed yet), and returns the new revision's
// number. A configuration at another revision is refused with an error
// matching [ErrStale]; data over [MaxSize] with [ErrTooLarge]. Push does
// not check data: the caller validates it first (ply config push does).
func (f *Fleet) Push(ctx context.Context, data []byte, last uint64) (uint64, error) {
	if len(data) > MaxSize {
		return 0, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(data))
	}
	var (
		rev uint64
		err error
	)
	if last == 0 {
		rev, err = f.store.Create(ctx, ConfigKey, data)
	} else {
		rev, err = f.store.Update(ctx, ConfigKey, data, last)
	}
	if errors.Is(err, kv.ErrExists) || errors.Is(err, kv.ErrConflict) || errors.Is(err, kv.ErrNotFound) {
		cur := "none"
		if c, cerr := f.Current(ctx); cerr == nil {
			cur = fmt.Sprint(c.Number)
		}
		return 0, fmt.Errorf("%w (based on revision %d, the current one is %s)", ErrStale, last, cur)
	}
	return rev, err
}

// Watcher delivers revisions; see [Fleet.Watch].
type Watcher struct {
	f      *Fleet
	c      chan Revision
	events chan Revision // from the bucket's watch
	cancel context.CancelFunc
	done   chan struct{} // both goroutines ended
	logger *slog.Logger
}

// CheckEvery is how often a [Watcher] also reads the current revision: a
// revision that a broken or stalled watch missed (a server lost, a leader
// elected) is delivered within about this long.
const CheckEvery = time.Second

// moveAfter is how many reads of the current revision in a row may time
// out before the watcher moves the connection to another server.
const moveAfter = 3

// Watch delivers, on [Watcher.Revisions], the revisions after revision
// after, oldest first: the current one (if newer) and then every push.
// Pushes come as the bucket's watch sees them; besides, the watcher reads
// the current revision every [CheckEvery], so one that a broken watch
// missed comes late, not never (the watch itself is started again until
// it holds). Revisions skipped meanwhile are not delivered: the newest
// counts. When the connection's server answers none of these reads for
// 3 s (a server rejoining the cluster routes no JetStream
// requests for a while), the watcher moves the connection to another
// server (nats.Conn.ForceReconnect). Watch returns at once; stop the
// watcher with [Watcher.Stop]. It also stops when ctx is done.
// The watcher logs to logger what it cannot do, and the revisions that
// only the poll saw.
func (f *Fleet) Watch(ctx context.Context, after uint64, logger *slog.Logger) *Watcher {
	ctx, cancel := context.WithCancel(ctx)
	w := &Watcher{f: f, c: make(chan Revision), events: make(chan Revision), cancel: cancel, done: make(chan struct{}), logger: logger}
	var wg sync.WaitGroup
	wg.Go(func() { w.watch(ctx) })
	wg.Go(func() { w.run(ctx, after) })
	go func() {
		wg.Wait()
		close(w.done)
	}()
	return w
}

// watch forwards the bucket's watch of the key to w.events, and starts it
// again whenever it ends or cannot start, until ctx is done.
func (w *Watcher) watch(ctx context.Context) {
	for ctx.Err() == nil {
		began := time.Now()
		kw, err := w.f.store.Watch(ctx, ConfigKey) // may block until the cluster answers, or ctx ends
		if err != nil && ctx.Err() == nil {
			w.logger.Warn("fleet: cannot watch the configuration; trying again", "err", err, "took", time.Since(began))
		}
		if err == nil {
			for ev := range kw.Updates() {
				if ev.Op != kv.OpPut {
					continue // a deleted configuration keeps the hosts as they are
				}
				select {
				case w.events <- Revision{Number: ev.Revision, Data: ev.Value, Created: ev.Created}:
				case <-ctx.Done():
				}
			}
			kw.Stop()
			if ctx.Err() == nil {
				w.logger.Warn("fleet: the watch of the configuration ended; watching again")
			}
		}
		t := time.NewTimer(CheckEvery)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

// run delivers the revisions newer than after, from the watch and from
// reading the current one every CheckEvery, until ctx is done.
func (w *Watcher) run(ctx context.Context, after uint64) {
	defer close(w.c)
	tick := time.NewTicker(CheckEvery)
	defer tick.Stop()
	unanswered := 0 // reads of the current revision in a row that timed out
	for {
		var rev Revision
		select {
		case <-ctx.Done():
			return
		case rev = <-w.events:
		case <-tick.C:
			cctx, cancel := context.WithTimeout(ctx, CheckEvery)
			cur, err := w.f.leaderCurrent(cctx)
			cancel()
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				if unanswered++; unanswered == moveAfter {
					// A server that rejoins the cluster accepts clients before it
					// routes their JetStream requests: the campaign saw 6-12 s.
					w.logger.Warn("fleet: the server does not answer JetStream requests; moving to another", "unanswered", unanswered)
					_ = w.f.js.Conn().ForceReconnect() // fails only on a closed connection, which ends the watch anyway
					unanswered = 0
				}
			} else {
				unanswered = 0
			}
			if err != nil {
				if !errors.Is(err, ErrNoRevision) && ctx.Err() == nil {
					w.logger.Warn("fleet: cannot read the current revision", "err", err)
				}
				continue
			}
			if cur.Number > after {
				w.logger.Warn("fleet: the watch missed a revision; read it", "revision", cur.Number)
			}
			rev = cur
		}
		if rev.Number <= after {
			continue
		}
		after = rev.Number
		select {
		case w.c <- rev:
		case <-ctx.Done():
			return
		}
	}
}

// leaderCurrent is [Fleet.Current] read from the stream's leader. Current
// reads directly from any replica, which is faster; but a replica catching
// up after its server's restart answers with an older revision (the
// campaign saw 6–12 s of it), which the watcher's poll must not trust.
func (f *Fleet) leaderCurrent(ctx context.Context) (Revision, error) {
	bucket := f.store.Bucket()
	req, err := json.Marshal(map[string]string{"last_by_subj": "$KV." + bucket + "." + ConfigKey})
	if err != nil {
		return Revision{}, err
	}
	o := f.js.Options()
	prefix := jetstream.DefaultAPIPrefix
	switch {
	case o.Domain != "":
		prefix = "$JS." + o.Domain + ".API."
	case o.APIPrefix != "":
		prefix = strings.TrimSuffix(o.APIPrefix, ".") + "."
	}
	m, err := f.js.Conn().RequestWithContext(ctx, prefix+"STREAM.MSG.GET.KV_"+bucket, req)
	if err != nil {
		return Revision{}, err
	}
	var resp struct {
		Error *struct {
			Code        int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
		Message *struct {
			Seq  uint64    `json:"seq"`
			Hdrs []byte    `json:"hdrs"`
			Data []byte    `json:"data"`
			Time time.Time `json:"time"`
		} `json:"message"`
	}
	if err := json.Unmarshal(m.Data, &resp); err != nil {
		return Revision{}, fmt.Errorf("fleet: read the current revision: %w", err)
	}
	switch {
	case resp.Error != nil && resp.Error.Code == 10037: // no message found
		return Revision{}, ErrNoRevision
	case resp.Error != nil:
		return Revision{}, fmt.Errorf("fleet: read the current revision: %s (%d)", resp.Error.Description, resp.Error.Code)
	case resp.Message == nil:
		return Revision{}, errors.New("fleet: read the current revision: empty answer")
	case bytes.Contains(resp.Message.Hdrs, []byte("KV-Operation")): // DEL or PURGE: a put has none
		return Revision{}, ErrNoRevision
	}
	return Revision{Number: resp.Message.Seq, Data: resp.Message.Data, Created: resp.Message.Time}, nil
}

// Revisions returns the channel of revisions, closed when the watcher
// stops.
func (w *Watcher) Revisions() <-chan Revision { return w.c }

// Stop stops the watcher and waits for its goroutines. It is idempotent.
func (w *Watcher) Stop() {
	w.cancel()
	<-w.done
}

// Status is what a host reports after each revision it was given.
type Status struct {
	Host string `json:"host"`
	// Revision is the revision the host serves; 0 when it serves its own
	// file.
	Revision uint64 `json:"revision"`
	// Generation is the host's generation: what a call runs on.
	Generation uint64 `json:"generation"`
	// Refused is the last revision the host could not apply, when it is
	// newer than Revision; Error says why. The host serves Revision,
	// unchanged.
	Refused uint64 `json:"refused,omitempty"`
	Error   string `json:"error,omitempty"`
	// Took is how long the host took from seeing the revision to serving
	// it (or refusing it).
	Took time.Duration `json:"took,omitempty"`
	// Time is when the host reported.
	Time time.Time `json:"time"`
}

// OK reports whether the host serves its last revision.
func (s Status) OK() bool { return s.Refused == 0 && s.Error == "" }

var validHost = regexp.MustCompile(`^[A-Za-z0-9_=-]+$`)

// CheckHost returns an error matching [ErrHostID] unless id can name a
// host: letters, digits, '-', '_' and '=', at most 128 bytes.
func CheckHost(id string) error {
	if len(id) > 128 || !validHost.MatchString(id) {
		return fmt.Errorf("%w %q: use letters, digits, '-', '_' and '=' (at most 128)", ErrHostID, id)
	}
	return nil
}

// Report stores st as its host's status.
func (f *Fleet) Report(ctx context.Context, st Status) error {
	if err := CheckHost(st.Host); err != nil {
		return err
	}
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	_, err = f.store.Put(ctx, statusPrefix+st.Host, data)
	return err
}

// Statuses returns every host's last status, sorted by host. A status that
// does not decode is returned with its host and the problem in Error.
func (f *Fleet) Statuses(ctx context.Context) ([]Status, error) {
	keys, err := f.store.Keys(ctx)
	if err != nil {
		return nil, err
	}
	var all []Status
	for _, k := range keys {
		host, ok := strings.CutPrefix(k, statusPrefix)
		if !ok {
			continue
		}
		e, err := f.store.Get(ctx, k)
		if errors.Is(err, kv.ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		st, err := ParseStatus(e.Value)
		if err != nil || st.Host != host {
			st = Status{Host: host, Error: fmt.Sprintf("unreadable status (%v); the host may run another ply version", err)}
		}
		all = append(all, st)
	}
	slices.SortFunc(all, func(a, b Status) int { return strings.Compare(a.Host, b.Host) })
	return all, nil
}

// ParseStatus decodes a status as [Fleet.Report] stores it: strict JSON
// (no unknown fields, no trailing data), at most 64 KiB, with a valid host.
func ParseStatus(data []byte) (Status, error) {
	if len(data) > maxStatusSize {
		return Status{}, fmt.Errorf("status of %d bytes, over %d", len(data), maxStatusSize)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	var st Status
	if err := dec.Decode(&st); err != nil {
		return Status{}, fmt.Errorf("status: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Status{}, errors.New("status: data after the JSON object")
	}
	if err := CheckHost(st.Host); err != nil {
		return Status{}, err
	}
	return st, nil
}
