package middleware

import (
	"cmp"
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/plykit/ply/internal/httpwriter"
	"golang.org/x/sync/singleflight"
)

// CacheOptions configures [NewCache]. The zero value keeps up to 64 MiB of
// responses of up to 1 MiB each, for as long as their origin allows.
type CacheOptions struct {
	// MaxBytes bounds the memory held by stored responses: bodies, header fields,
	// keys and a fixed overhead per entry. The least useful entries are evicted
	// past it. Default 64 MiB.
	MaxBytes int64 `json:"maxBytes,omitempty" jsonschema:"minimum=1"`
	// MaxBodyBytes is the largest body that is stored; a larger response is
	// streamed to its client and not cached. Default 1 MiB, or MaxBytes if smaller;
	// at most MaxBytes and 1 GiB.
	MaxBodyBytes int64 `json:"maxBodyBytes,omitempty" jsonschema:"minimum=1,maximum=1073741824"`
	// TTL opts in to caching responses that carry no freshness information of their
	// own (no s-maxage, max-age or Expires): they are fresh for TTL. By default (0)
	// the cache follows the origin (RFC 9111 §4.2): such a response is fresh for a
	// tenth of the time since its Last-Modified (at most a day), else it is only
	// revalidated or not stored.
	TTL time.Duration `json:"ttl,omitempty" jsonschema:"minimum=1ms"`
	// TagHeader is the response header in which handlers list a response's tags,
	// comma-separated, for [Cache.InvalidateTag]. It is removed from responses.
	// Default "Cache-Tag".
	TagHeader string `json:"tagHeader,omitempty" jsonschema:"pattern=^[A-Za-z0-9-]+$"`
	// Vary lists request headers that are always part of the key, in addition to those
	// named by responses' Vary headers.
	Vary []string `json:"vary,omitempty"`
}

const (
	defaultMaxBytes = 64 << 20
	defaultMaxBody  = 1 << 20
	maxBodyLimit    = 1 << 30 // an entry's weight is a uint32
	entryOverhead   = 512     // bytes an entry costs beyond its key, header and body
)

// Validate reports what the schema cannot: a body limit above the memory bound
// and bad vary header names, as [*option.Error] values.
func (o CacheOptions) Validate() error {
	var p problems
	if maxBytes := cmp.Or(o.MaxBytes, defaultMaxBytes); o.MaxBytes >= 0 && o.MaxBodyBytes > maxBytes && o.MaxBodyBytes <= maxBodyLimit {
		p.add("maxBodyBytes", "must be <= maxBytes (%d), got %d; raise maxBytes or lower maxBodyBytes", maxBytes, o.MaxBodyBytes)
	}
	for i, v := range o.Vary {
		if v == "" || !validHeaderName(v) {
			p.add(fmt.Sprintf("vary[%d]", i), "must be a header name (letters, digits and '-'), got %q", v)
		}
	}
	return p.err()
}

// CacheStats counts lookups since the [Cache] was created, and what it holds.
type CacheStats struct {
	Hits, Misses uint64
	Entries      int   // stored responses (and records of their Vary headers)
	Bytes        int64 // the memory they are charged, bounded by [CacheOptions.MaxBytes]
}

// Cache is an in-memory HTTP response cache for GET and HEAD requests, a shared
// cache in the sense of RFC 9111. It is safe for concurrent use. Close it when done.
//
// # Keys and sharing
//
// The key is the method, host, path, query (with sorted parameters) and the values of
// the request headers named in [CacheOptions.Vary] and in the response's Vary header.
// A request that carries credentials (Authorization, X-API-Key, Cookie) or that an
// outer [Auth] layer authenticated is private: its response is stored only when it
// says public or s-maxage, and it is never coalesced with other requests.
// Concurrent misses of other requests for one key run the inner chain once
// (golang.org/x/sync/singleflight); the others get that response only if it was
// stored, and otherwise run the chain themselves.
//
// # Freshness
//
// A response is stored when its status is final and understood (not 206 or 304), it
// has no Set-Cookie, no Vary: * and no private or no-store, and it is fresh or can be
// revalidated. Its lifetime is, in order: s-maxage, max-age, Expires minus Date,
// [CacheOptions.TTL] if set, a tenth of its age since Last-Modified (at most a day);
// CDN-Cache-Control (RFC 9213) replaces Cache-Control and Expires when present.
// Its age counts the Age it came with and the time it spent in transit and stored
// (RFC 9111 §4.2.3), and is sent downstream in Age.
//
// A stale response with an ETag or Last-Modified is revalidated with If-None-Match or
// If-Modified-Since; a 304 updates its stored header fields. Request directives
// no-store, no-cache, max-age, min-fresh, max-stale and only-if-cached are honoured.
// A stale response is kept for an hour past its freshness: it stands in (X-Cache:
// STALE) when the origin answers 502 or 504, or another 5xx within stale-if-error;
// must-revalidate, proxy-revalidate, s-maxage and no-cache forbid any stale use. A
// fresh stored response answers If-None-Match and If-Modified-Since with 304, and a
// single byte Range with 206, itself.
//
// A successful request of any other method than GET, HEAD, OPTIONS and TRACE removes
// the stored responses of its URL and of its Location and Content-Location on the
// same host (RFC 9111 §4.4), before its response goes out. Every GET and HEAD
// response gets X-Cache: HIT, MISS or STALE.
//
// # Memory
//
// Stored responses are bounded by bytes ([CacheOptions.MaxBytes]), each by
// [CacheOptions.MaxBodyBytes]. On a miss the inner chain writes into memory until
// its body passes MaxBodyBytes; from there it streams to its client and is not
// stored. Interim responses (1xx, such as 103 Early Hints) go to the client at once.
// While the response is in memory, Flush does nothing and Hijack fails with
// [http.ErrNotSupported].
// It runs with the context of the first request for the key; if that context ends
// before the chain returns, nothing is stored and the requests that waited run the
// chain themselves. A panic in the inner chain is re-raised in every waiting request.
type Cache struct {
	ttl       time.Duration
	maxBody   int64
	tagHeader string
	vary      []string
	seed      maphash.Seed

	store  *otter.Cache[uint64, *cacheEntry]
	flight singleflight.Group

	mu   sync.Mutex
	tags map[string]map[uint64]struct{} // tag → keys of entries that had it when stored

	hits, misses atomic.Uint64
}

// cacheEntry is a stored response, or a marker that records the Vary header names
// of the responses for a URL (then resp is nil). It is immutable once stored.
type cacheEntry struct {
	key  string // the full key, whose hash the store is keyed by
	resp *recordedResponse
	policy
	responseTime       time.Time
	etag, lastModified string
	tags               []string
	vary               []string
	weight             uint32
}

// NewCache validates opts and returns a [Cache].
func NewCache(opts CacheOptions) (*Cache, error) {
	if err := checked("cache", opts); err != nil {
		return nil, err
	}
	maxBytes := cmp.Or(opts.MaxBytes, defaultMaxBytes)
	c := &Cache{
		ttl:       opts.TTL,
		maxBody:   cmp.Or(opts.MaxBodyBytes, min(defaultMaxBody, maxBytes)),
		tagHeader: textproto.CanonicalMIMEHeaderKey(cmp.Or(opts.TagHeader, "Cache-Tag")),
		seed:      maphash.MakeSeed(),
		tags:      make(map[string]map[uint64]struct{}),
	}
	for _, v := range opts.Vary {
		c.vary = append(c.vary, textproto.CanonicalMIMEHeaderKey(v))
	}
	store, err := otter.New(&otter.Options[uint64, *cacheEntry]{
		MaximumWeight: uint64(max(maxBytes, 1)), // already >= 1: checked rejects a negative MaxBytes
		Weigher:       func(_ uint64, e *cacheEntry) uint32 { return e.weight },
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[uint64, *cacheEntry]) time.Duration {
			return e.Value.keep
		}),
		OnAtomicDeletion: c.unindex,
	})
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	c.store = store
	return c, nil
}

// Close stops the store's background clean-up. The cache keeps working.
func (c *Cache) Close() error {
	c.store.StopAllGoroutines()
	return nil
}

// Stats returns the hit and miss counts and the size of what is stored, after
// running the store's pending evictions.
func (c *Cache) Stats() CacheStats {
	c.store.CleanUp()
	return CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Entries: c.store.EstimatedSize(),
		Bytes: int64(min(c.store.WeightedSize(), math.MaxInt64))} // at most MaximumWeight, an int64
}

// InvalidateTag removes every stored response tagged with tag, through the tag
// header or [AddCacheTags]. Responses being computed while it runs may still be
// stored afterwards.
func (c *Cache) InvalidateTag(tag string) {
	c.mu.Lock()
	keys := c.tags[tag]
	delete(c.tags, tag)
	c.mu.Unlock()
	for k := range keys {
		c.store.ComputeIfPresent(k, func(e *cacheEntry) (*cacheEntry, otter.ComputeOp) {
			if slices.Contains(e.tags, tag) {
				return nil, otter.InvalidateOp
			}
			return e, otter.CancelOp
		})
	}
}

// unindex drops a deleted entry's key from the tag index. It runs under the store's
// bucket lock, so it must not call the store.
func (c *Cache) unindex(e otter.DeletionEvent[uint64, *cacheEntry]) {
	if e.Cause == otter.CauseReplacement || len(e.Value.tags) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range e.Value.tags {
		if keys := c.tags[t]; keys != nil {
			delete(keys, e.Key)
			if len(keys) == 0 {
				delete(c.tags, t)
			}
		}
	}
}

type cacheTagsKey struct{}

// cacheTags collects the tags a handler adds with AddCacheTags.
type cacheTags struct {
	mu   sync.Mutex
	tags []string
}

// AddCacheTags tags the response being computed under ctx, for
// [Cache.InvalidateTag]. It does nothing when no [Cache] layer computes the response
// (a cache hit, a bypass, or no cache at all). It is safe for concurrent use.
func AddCacheTags(ctx context.Context, tags ...string) {
	if ct, ok := ctx.Value(cacheTagsKey{}).(*cacheTags); ok {
		ct.mu.Lock()
		ct.tags = append(ct.tags, tags...)
		ct.mu.Unlock()
	}
}

// flightResult is what one run of the inner chain gives every request that waited
// for it.
type flightResult struct {
	resp      *recordedResponse // nil when the response streamed to its client
	entry     *cacheEntry       // the stored response, nil when it was not stored
	stale     bool              // entry is a stale response standing in for a failed origin
	hit       bool              // entry was stored by a fill that ended while this request queued
	varyKey   string            // the leader's values of the response's Vary headers
	cancelled bool              // the leader's context ended: the response may be cut short
	panicking any
}

// Shared header values of hits and misses; the capacity is the length, so a
// layer that appends to them gets a copy.
var (
	xCacheHit   = []string{"HIT"}
	xCacheMiss  = []string{"MISS"}
	xCacheStale = []string{"STALE"}
)

// Middleware returns the layer.
func (c *Cache) Middleware() func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.Method {
			case http.MethodGet, http.MethodHead:
				c.serve(next, w, r)
			case http.MethodOptions, http.MethodTrace:
				next.ServeHTTP(w, r)
			default:
				c.serveUnsafe(next, w, r)
			}
		})
	}
}

// serve answers a GET or HEAD: from the store, or by running next.
func (c *Cache) serve(next http.Handler, w http.ResponseWriter, r *http.Request) {
	d := parseRequestDirectives(r.Header)
	if d.noStore {
		c.misses.Add(1)
		w.Header()["X-Cache"] = xCacheMiss[:1:1]
		next.ServeHTTP(w, r)
		return
	}
	k := keyPool.Get().(*cacheKey)
	defer keyPool.Put(k)
	c.buildKey(k, r)
	now := time.Now()
	e := c.lookup(k, r)
	if e != nil && e.usable(d, now) {
		c.hits.Add(1)
		writeStored(w, r, e, now, xCacheHit)
		return
	}
	if d.onlyIfCached {
		c.misses.Add(1)
		w.Header()["X-Cache"] = xCacheMiss[:1:1]
		WriteProblem(w, http.StatusGatewayTimeout, "no stored response satisfies only-if-cached")
		return
	}
	c.misses.Add(1)
	w.Header()["X-Cache"] = xCacheMiss[:1:1]
	key, uri, base := string(k.buf), string(k.buf[k.uri:k.uriEnd]), k.base
	if credentialed(r) { // never share a private caller's response with a waiter
		c.writeResult(w, r, c.fill(next, w, r, key, uri, base, e))
		return
	}
	leader := false
	v, _, _ := c.flight.Do(key, func() (any, error) {
		leader = true
		// A fill that ended between the lookup above and this flight has
		// stored the response: serve it rather than run next again.
		if s := c.lookup(k, r); s != nil && s != e && s.usable(d, time.Now()) {
			return &flightResult{entry: s, hit: true, varyKey: varyKey(r, s.resp.vary())}, nil
		}
		return c.fill(next, w, r, key, uri, base, e), nil
	})
	res := v.(*flightResult)
	if res.panicking != nil {
		panic(res.panicking) // every waiting request fails as the leader did
	}
	if !leader && (res.cancelled || res.entry == nil ||
		res.varyKey != "" && res.varyKey != varyKey(r, res.entry.resp.vary())) {
		// The leader gave up, its response was not stored (so it may be meant for
		// the leader alone), or it varies on headers in which this request differs:
		// compute this request's own response.
		res = c.fill(next, w, r, key, uri, base, e)
		if res.panicking != nil {
			panic(res.panicking)
		}
	}
	c.writeResult(w, r, res)
}

// writeResult writes the response a miss computed, unless it streamed already.
func (c *Cache) writeResult(w http.ResponseWriter, r *http.Request, res *flightResult) {
	if res.panicking != nil {
		panic(res.panicking)
	}
	switch {
	case res.stale:
		writeStored(w, r, res.entry, time.Now(), xCacheStale)
	case res.hit:
		writeStored(w, r, res.entry, time.Now(), xCacheHit)
	case res.entry != nil:
		writeStored(w, r, res.entry, time.Now(), xCacheMiss)
	case res.resp != nil:
		res.resp.writeTo(w)
	}
}

// writeStored writes a stored response with its current age, or 304 when the
// request's conditions say the client has it. xCache is the X-Cache value: a
// response just fetched (MISS) gets an Age only once it is a second old.
func writeStored(w http.ResponseWriter, r *http.Request, e *cacheEntry, now time.Time, xCache []string) {
	h := w.Header()
	for k, v := range e.resp.header {
		h[k] = v[:len(v):len(v)] // shared: whoever appends gets a copy
	}
	h["X-Cache"] = xCache[:1:1]
	if age := e.age(now); xCache[0] != "MISS" || age >= time.Second {
		h["Age"] = []string{strconv.FormatInt(int64(age/time.Second), 10)}
	}
	if e.resp.status != http.StatusOK {
		w.WriteHeader(e.resp.status)
		_, _ = w.Write(e.resp.body)
		return
	}
	if notModified(r, e.etag, e.lastModified) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := e.resp.body
	if rng := r.Header.Get("Range"); rng != "" && ifRange(r, e.etag) {
		switch start, end, status := byteRange(rng, len(body)); status {
		case http.StatusPartialContent:
			h.Set("Content-Range", "bytes "+strconv.Itoa(start)+"-"+strconv.Itoa(end)+"/"+strconv.Itoa(len(body)))
			h.Set("Content-Length", strconv.Itoa(end-start+1))
			w.WriteHeader(status)
			_, _ = w.Write(body[start : end+1])
			return
		case http.StatusRequestedRangeNotSatisfiable:
			h.Set("Content-Range", "bytes */"+strconv.Itoa(len(body)))
			h.Del("Content-Length")
			w.WriteHeader(status)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// ifRange reports whether a Range request applies to a stored response with
// etag: without If-Range, or when If-Range names its strong ETag (RFC 9110 §13.1.5).
func ifRange(r *http.Request, etag string) bool {
	v := r.Header.Get("If-Range")
	return v == "" || etag != "" && !strings.HasPrefix(etag, "W/") && v == etag
}

// byteRange resolves a single byte range (RFC 9110 §14.1.2) over size bytes. It
// returns 206 with the inclusive bounds, 416 when nothing of it is there, or 200
// when the request is to be answered whole (another unit, several ranges, bad
// syntax).
func byteRange(spec string, size int) (start, end, status int) {
	unit, set, ok := strings.Cut(spec, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(unit), "bytes") || strings.Contains(set, ",") {
		return 0, 0, http.StatusOK
	}
	first, last, ok := strings.Cut(strings.TrimSpace(set), "-")
	if !ok {
		return 0, 0, http.StatusOK
	}
	if first == "" { // suffix: the last n bytes
		n, err := strconv.Atoi(last)
		switch {
		case err != nil || n < 0:
			return 0, 0, http.StatusOK
		case n == 0 || size == 0:
			return 0, 0, http.StatusRequestedRangeNotSatisfiable
		}
		return max(0, size-n), size - 1, http.StatusPartialContent
	}
	a, err := strconv.Atoi(first)
	if err != nil || a < 0 {
		return 0, 0, http.StatusOK
	}
	b := size - 1
	if last != "" {
		if b, err = strconv.Atoi(last); err != nil || b < a {
			return 0, 0, http.StatusOK
		}
	}
	if a >= size {
		return 0, 0, http.StatusRequestedRangeNotSatisfiable
	}
	return a, min(b, size-1), http.StatusPartialContent
}

// lookup returns the stored entry for the key in k, following a Vary marker to the
// variant for r. It extends k.buf with the variant's part of the key.
func (c *Cache) lookup(k *cacheKey, r *http.Request) *cacheEntry {
	e, ok := c.store.GetIfPresent(maphash.Bytes(c.seed, k.buf))
	if !ok || e.key != string(k.buf) {
		return nil
	}
	if e.vary == nil {
		return e
	}
	for _, name := range e.vary {
		k.buf = appendVary(k.buf, r, name)
	}
	e, ok = c.store.GetIfPresent(maphash.Bytes(c.seed, k.buf))
	if !ok || e.key != string(k.buf) {
		return nil
	}
	return e
}

// fill runs the inner chain and stores the response when it may be. With a stale
// entry it sends a conditional request, and a 304 refreshes the entry.
func (c *Cache) fill(next http.Handler, w http.ResponseWriter, r *http.Request, key, uri string, base int, stale *cacheEntry) (res *flightResult) {
	res = &flightResult{}
	defer func() {
		if v := recover(); v != nil {
			res.panicking = v
		}
	}()
	ct := &cacheTags{}
	rec := newRecorder(w)
	rec.s.limit, rec.s.strip = c.maxBody, c.tagHeader
	out := r.WithContext(context.WithValue(r.Context(), cacheTagsKey{}, ct))
	if stale.revalidatable() {
		out.Header = r.Header.Clone()
		for _, name := range []string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range"} {
			delete(out.Header, name)
		}
		if stale.etag != "" {
			out.Header.Set("If-None-Match", stale.etag)
		}
		if stale.lastModified != "" {
			out.Header.Set("If-Modified-Since", stale.lastModified)
		}
	}
	requestTime := time.Now()
	next.ServeHTTP(rec, out)
	responseTime := time.Now()
	if rec.s.streaming {
		res.cancelled = r.Context().Err() != nil
		return res
	}
	res.resp = rec.result()
	h := res.resp.header
	ct.mu.Lock()
	tags := append(splitList(h.Values(c.tagHeader)), ct.tags...)
	ct.mu.Unlock()
	h.Del(c.tagHeader)
	if r.Context().Err() != nil {
		res.cancelled = true
		return res
	}
	if stale != nil && stale.servesError(res.resp.status, responseTime) {
		res.entry, res.stale = stale, true // the origin failed: the stored response stands in
		return res
	}
	if stale.revalidatable() && res.resp.status == http.StatusNotModified {
		if etag := h.Get("Etag"); etag != "" && strings.TrimPrefix(etag, "W/") != strings.TrimPrefix(stale.etag, "W/") {
			return c.fill(next, w, r, key, uri, base, nil) // validates another response: fetch it whole
		}
		res.resp = stale.resp.updated(h)
		for _, t := range stale.tags {
			if !strings.HasPrefix(t, "\x00") { // the URL's own tag is added below
				tags = append(tags, t)
			}
		}
		h = res.resp.header
	}
	if h.Get("Date") == "" { // RFC 9110 §6.6.1: a cache adds the Date it lacks
		h.Set("Date", responseTime.UTC().Format(http.TimeFormat))
	}
	vary := res.resp.vary()
	if len(vary) > 0 {
		res.varyKey = varyKey(r, vary)
	}
	p, ok := responsePolicy(res.resp, vary, credentialed(r), c.ttl, requestTime, responseTime)
	if !ok {
		if stale != nil {
			c.invalidate(uriTag(uri))
		}
		return res
	}
	slices.Sort(tags)
	tags = append(slices.Compact(tags), uriTag(uri)) // the URL's tag last, for the Vary marker
	if len(vary) > 0 {
		baseKey := key[:base]
		c.put(&cacheEntry{key: baseKey, vary: vary, tags: tags[len(tags)-1:],
			policy: policy{keep: p.keep}})
		key = baseKey + res.varyKey
	}
	res.entry = &cacheEntry{key: key, resp: res.resp, policy: p, responseTime: responseTime,
		etag: h.Get("Etag"), lastModified: h.Get("Last-Modified"), tags: tags}
	c.put(res.entry)
	return res
}

// put stores e and indexes its tags.
func (c *Cache) put(e *cacheEntry) {
	weight := int64(entryOverhead+len(e.key)) + e.resp.size()
	for _, v := range e.vary {
		weight += int64(len(v))
	}
	e.weight = uint32(min(max(weight, 0), math.MaxUint32)) // the store weighs entries in uint32
	c.store.Set(c.index(e), e)
}

// index records e's tags under the hash of its key, which it returns.
func (c *Cache) index(e *cacheEntry) uint64 {
	hash := maphash.String(c.seed, e.key)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range e.tags {
		keys := c.tags[t]
		if keys == nil {
			keys = make(map[uint64]struct{})
			c.tags[t] = keys
		}
		keys[hash] = struct{}{}
	}
	return hash
}

// Adopt takes over the stored responses of from, the cache this one
// replaces, so that replacing a cache (a reload that changes its options)
// does not send every request to the origin at once. Entries are shared,
// not copied (they are immutable), with the time they had left; the
// hottest come first, and the store's bound evicts past MaxBytes. A body
// over this cache's MaxBodyBytes is left behind. Nothing is adopted when the
// two caches would key, tag or keep responses differently: another Vary,
// TagHeader or TTL. Adopt returns the number of entries adopted; call it
// before the cache serves.
func (c *Cache) Adopt(from *Cache) int {
	if from == nil || from.ttl != c.ttl || from.tagHeader != c.tagHeader || !slices.Equal(from.vary, c.vary) {
		return 0
	}
	// Hottest holds the old store's policy lock while it iterates: collect
	// first, then write.
	var entries []otter.Entry[uint64, *cacheEntry]
	for e := range from.store.Hottest() {
		entries = append(entries, e)
	}
	now := time.Now().UnixNano()
	n := 0
	for _, e := range entries {
		left := time.Duration(e.ExpiresAtNano - now)
		if left <= 0 || (e.Value.resp != nil && int64(len(e.Value.resp.body)) > c.maxBody) {
			continue
		}
		hash := c.index(e.Value)
		c.store.Set(hash, e.Value)
		c.store.SetExpiresAfter(hash, left)
		n++
	}
	return n
}

// invalidate removes the entries tagged with tag.
func (c *Cache) invalidate(tag string) { c.InvalidateTag(tag) }

// uriTag is the internal tag of every entry of a URL, for invalidation; no header
// value can hold its NUL.
func uriTag(uri string) string { return "\x00" + uri }

// serveUnsafe runs a request of a method that may change the resource, and on
// success removes the stored responses it makes stale (RFC 9111 §4.4), before
// its response reaches the client.
func (c *Cache) serveUnsafe(next http.Handler, w http.ResponseWriter, r *http.Request) {
	iw := &invalidatingWriter{c: c, r: r}
	iw.Reset(w, iw)
	next.ServeHTTP(iw, r)
	if iw.Status() == 0 { // the handler wrote nothing: net/http sends 200
		_ = iw.Open(http.StatusOK)
	}
}

// invalidatingWriter invalidates when the final status of a response is known,
// before it goes out.
type invalidatingWriter struct {
	httpwriter.Writer
	c *Cache
	r *http.Request
}

// Open invalidates what a successful response makes stale; it never refuses.
func (iw *invalidatingWriter) Open(code int) error {
	if code < 200 || code >= 400 {
		return nil
	}
	iw.c.invalidateURL(iw.r.Host, iw.r.URL)
	h := iw.Header()
	for _, name := range []string{"Location", "Content-Location"} {
		if v := h.Get(name); v != "" {
			if u, err := iw.r.URL.Parse(v); err == nil && (u.Host == "" || strings.EqualFold(u.Host, iw.r.Host)) {
				iw.c.invalidateURL(iw.r.Host, u)
			}
		}
	}
	return nil
}

// invalidateURL removes every stored response of host and u's path and query.
func (c *Cache) invalidateURL(host string, u *url.URL) {
	c.invalidate(uriTag(string(appendURI(nil, host, u))))
}

// cacheKey holds a key being built: "METHOD|host|path?query" then the values of the
// configured Vary headers, then those of the response's Vary headers.
type cacheKey struct {
	buf    []byte
	uri    int // start of host|path?query in buf
	uriEnd int
	base   int // length of the key without the response's Vary headers
}

var keyPool = sync.Pool{New: func() any { return &cacheKey{buf: make([]byte, 0, 256)} }}

// buildKey writes r's key into k, without the response's Vary headers.
func (c *Cache) buildKey(k *cacheKey, r *http.Request) {
	b := k.buf[:0]
	b = append(b, r.Method...)
	b = append(b, '|')
	k.uri = len(b)
	b = appendURI(b, r.Host, r.URL)
	k.uriEnd = len(b)
	for _, name := range c.vary {
		b = appendVary(b, r, name)
	}
	k.buf, k.base = b, len(b)
}

// appendURI appends host|path?query, with the query's parameters sorted.
func appendURI(b []byte, host string, u *url.URL) []byte {
	b = append(b, host...)
	b = append(b, '|')
	b = append(b, u.EscapedPath()...)
	if u.RawQuery != "" {
		b = append(b, '?')
		if sortedQuery(u.RawQuery) {
			b = append(b, u.RawQuery...)
		} else {
			b = append(b, u.Query().Encode()...) // Encode sorts by parameter name
		}
	}
	return b
}

// sortedQuery reports whether the parameter names of a raw query are in order.
func sortedQuery(q string) bool {
	prev := ""
	for part := range strings.SplitSeq(q, "&") {
		name, _, _ := strings.Cut(part, "=")
		if name < prev || strings.ContainsAny(name, "%+;") {
			return false
		}
		prev = name
	}
	return true
}

// varyKey is the part of a key that the values of the named request headers make.
func varyKey(r *http.Request, names []string) string {
	var b []byte
	for _, name := range names {
		b = appendVary(b, r, name)
	}
	return string(b)
}

// appendVary appends |Name="item","item" for the request's values of a header,
// as one comma-separated list with the space around items removed, so that
// "a, b" and the two lines "a" and "b" select the same response (RFC 9111 §4.1).
func appendVary(b []byte, r *http.Request, name string) []byte {
	b = append(b, '|')
	b = append(b, name...)
	b = append(b, '=')
	first := true
	for _, v := range r.Header[name] {
		for v != "" {
			item := v
			if i := strings.IndexByte(v, ','); i >= 0 {
				item, v = v[:i], v[i+1:]
			} else {
				v = ""
			}
			if item = strings.TrimSpace(item); item == "" {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = strconv.AppendQuote(b, item)
		}
	}
	return b
}

// headerNames splits comma-separated header names and canonicalises them, sorted.
func headerNames(values []string) []string {
	names := splitList(values)
	for i, n := range names {
		if n != "*" {
			names[i] = textproto.CanonicalMIMEHeaderKey(n)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// splitList splits comma-separated header values into trimmed, non-empty items.
func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}

// cacheControl holds parsed Cache-Control directives, lower-cased, with their
// arguments.
type cacheControl map[string]string

func parseCacheControl(values []string) cacheControl {
	if len(values) == 0 {
		return nil
	}
	cc := cacheControl{}
	for _, d := range splitList(values) {
		name, arg, _ := strings.Cut(d, "=")
		cc[strings.ToLower(strings.TrimSpace(name))] = strings.TrimSpace(strings.Trim(strings.TrimSpace(arg), `"`))
	}
	return cc
}

func (cc cacheControl) has(name string) bool {
	_, ok := cc[name]
	return ok
}

// seconds returns a delta-seconds directive as a duration.
func (cc cacheControl) seconds(name string) (time.Duration, bool) {
	arg, ok := cc[name]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || n < 0 {
		return 0, true // an invalid value means stale (RFC 9111 §4.2.1)
	}
	return time.Duration(min(n, 1<<31)) * time.Second, true
}
