package middleware

import (
	"context"
	"fmt"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"golang.org/x/sync/singleflight"
)

// CacheOptions configures [NewCache]. The zero value keeps up to 10,000 responses of
// up to 1 MiB each, for 1 minute unless they say otherwise.
type CacheOptions struct {
	// MaxEntries bounds the number of cached responses. Default 10000.
	MaxEntries int `json:"maxEntries,omitempty" jsonschema:"minimum=1"`
	// TTL is how long a response without max-age or s-maxage is kept. Default 1m.
	TTL time.Duration `json:"ttl,omitempty" jsonschema:"minimum=1000000"`
	// MaxBodyBytes is the largest body that is stored; larger responses are served but
	// not cached. Default 1 MiB.
	MaxBodyBytes int64 `json:"maxBodyBytes,omitempty" jsonschema:"minimum=1"`
	// TagHeader is the response header in which handlers list a response's tags,
	// comma-separated, for [Cache.InvalidateTag]. It is removed from responses.
	// Default "Cache-Tag".
	TagHeader string `json:"tagHeader,omitempty" jsonschema:"pattern=^[A-Za-z0-9-]+$"`
	// Vary lists request headers that are always part of the key, in addition to those
	// named by responses' Vary headers.
	Vary []string `json:"vary,omitempty"`
}

// Validate reports negative values and bad header names, as [ply.FieldError] values.
func (o CacheOptions) Validate() error {
	var p problems
	if o.MaxEntries < 0 {
		p.add("maxEntries", "must be >= 1, got %d", o.MaxEntries)
	}
	if o.TTL < 0 {
		p.add("ttl", "must be > 0, got %v", o.TTL)
	}
	if o.MaxBodyBytes < 0 {
		p.add("maxBodyBytes", "must be >= 1, got %d", o.MaxBodyBytes)
	}
	if !validHeaderName(o.TagHeader) {
		p.add("tagHeader", "must contain only letters, digits and '-', got %q", o.TagHeader)
	}
	for i, v := range o.Vary {
		if v == "" || !validHeaderName(v) {
			p.add(fmt.Sprintf("vary[%d]", i), "must be a header name (letters, digits and '-'), got %q", v)
		}
	}
	return p.err()
}

// CacheStats counts lookups since the [Cache] was created.
type CacheStats struct {
	Hits, Misses uint64
}

// Cache is an in-memory HTTP response cache for GET and HEAD requests, a shared
// cache in the sense of RFC 9111. It is safe for concurrent use. Close it when done.
//
// The key is the method, host, path, query (with sorted parameters) and the values of
// the request headers named in [CacheOptions.Vary] and in the response's Vary header.
// Concurrent misses for one key run the inner chain once (golang.org/x/sync/singleflight)
// and all get its response.
//
// Cache-Control is honoured:
//   - request no-store: the cache is bypassed;
//   - request no-cache or max-age=0: a fresh response is fetched (and stored);
//   - request max-age=N: only entries at most N seconds old are served;
//   - response no-store, no-cache or private, Set-Cookie, or Vary: * : not stored;
//   - response s-maxage or max-age: the entry's lifetime, else [CacheOptions.TTL];
//   - requests with Authorization: stored only when the response says public or s-maxage.
//
// Only responses with status 200, 203, 204, 301, 404 or 410 are stored. Every
// response gets X-Cache: HIT or MISS, and hits an Age header.
//
// On a miss the inner chain writes into memory, so it cannot stream, flush or hijack
// the connection, and its whole body is held until it returns (also when it is too
// large to store). It runs with the context of the first request for the key; if
// that context ends before the chain returns, nothing is stored and the requests
// that waited run the chain themselves. A panic in the inner chain is re-raised in
// every waiting request.
type Cache struct {
	ttl       time.Duration
	maxBody   int64
	tagHeader string
	vary      []string

	store  *otter.Cache[string, *cacheEntry]
	flight singleflight.Group

	mu   sync.Mutex
	tags map[string]map[string]struct{} // tag → keys of entries that had it when stored

	hits, misses atomic.Uint64
}

// cacheEntry is a stored response, or a marker that records the Vary header names
// of the responses for a URL (then resp is nil).
type cacheEntry struct {
	resp   *recordedResponse
	stored time.Time
	ttl    time.Duration
	tags   []string
	vary   []string
}

// NewCache validates opts and returns a [Cache].
func NewCache(opts CacheOptions) (*Cache, error) {
	if err := checked("cache", opts); err != nil {
		return nil, err
	}
	c := &Cache{
		ttl:       cmpOr(opts.TTL, time.Minute),
		maxBody:   cmpOr(opts.MaxBodyBytes, 1<<20),
		tagHeader: textproto.CanonicalMIMEHeaderKey(cmpOr(opts.TagHeader, "Cache-Tag")),
		tags:      make(map[string]map[string]struct{}),
	}
	for _, v := range opts.Vary {
		c.vary = append(c.vary, textproto.CanonicalMIMEHeaderKey(v))
	}
	store, err := otter.New(&otter.Options[string, *cacheEntry]{
		MaximumSize: cmpOr(opts.MaxEntries, 10_000),
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, *cacheEntry]) time.Duration {
			return e.Value.ttl
		}),
		OnAtomicDeletion: c.unindex,
	})
	if err != nil {
		return nil, fmt.Errorf("cache: %v", err)
	}
	c.store = store
	return c, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Close stops the store's background clean-up. The cache keeps working.
func (c *Cache) Close() error {
	c.store.StopAllGoroutines()
	return nil
}

// Stats returns the hit and miss counts.
func (c *Cache) Stats() CacheStats {
	return CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load()}
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
func (c *Cache) unindex(e otter.DeletionEvent[string, *cacheEntry]) {
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
	resp      *recordedResponse
	varyKey   string // the leader's values of the response's Vary headers
	cancelled bool   // the leader's context ended: the response may be cut short
	panicking any
}

// Middleware returns the layer.
func (c *Cache) Middleware() func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				next.ServeHTTP(w, r)
				return
			}
			reqCC := parseCacheControl(r.Header.Values("Cache-Control"))
			if reqCC.has("no-store") {
				c.misses.Add(1)
				w.Header().Set("X-Cache", "MISS")
				next.ServeHTTP(w, r)
				return
			}
			base := c.baseKey(r)
			key := base
			if e, ok := c.store.GetIfPresent(base); ok {
				if e.vary != nil {
					key = base + varyKey(r, e.vary)
					e, ok = c.store.GetIfPresent(key)
				}
				if ok && e.resp != nil && c.fresh(e, reqCC) {
					c.hits.Add(1)
					h := w.Header()
					h.Set("X-Cache", "HIT")
					h.Set("Age", strconv.FormatInt(int64(time.Since(e.stored)/time.Second), 10))
					e.resp.writeTo(w)
					return
				}
			}
			c.misses.Add(1)
			leader := false
			v, _, _ := c.flight.Do(key, func() (any, error) {
				leader = true
				return c.fill(next, w, r, base), nil
			})
			res := v.(*flightResult)
			if res.panicking != nil {
				panic(res.panicking) // every waiting request fails as the leader did
			}
			if !leader && (res.cancelled || res.varyKey != "" && res.varyKey != varyKey(r, headerNames(res.resp.header.Values("Vary")))) {
				// The leader gave up, or the response varies on headers in which this
				// request differs: compute this request's own response.
				w.Header().Set("X-Cache", "MISS")
				next.ServeHTTP(w, r)
				return
			}
			w.Header().Set("X-Cache", "MISS")
			res.resp.writeTo(w)
		})
	}
}

// fill runs the inner chain into memory and stores the response when it may be.
func (c *Cache) fill(next http.Handler, w http.ResponseWriter, r *http.Request, base string) (res *flightResult) {
	res = &flightResult{}
	defer func() {
		if v := recover(); v != nil {
			res.panicking = v
		}
	}()
	ct := &cacheTags{}
	rec := newRecorder()
	rec.under = w // for Unwrap: what the leader's response goes to
	next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), cacheTagsKey{}, ct)))
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
	vary := headerNames(h.Values("Vary"))
	if len(vary) > 0 {
		res.varyKey = varyKey(r, vary)
	}
	ttl, ok := c.storable(r, res.resp, vary)
	if !ok {
		return res
	}
	now := time.Now()
	key := base
	if len(vary) > 0 {
		c.store.Set(base, &cacheEntry{stored: now, ttl: ttl, vary: vary})
		key = base + res.varyKey
	}
	c.store.Set(key, &cacheEntry{resp: res.resp, stored: now, ttl: ttl, tags: tags})
	if len(tags) > 0 {
		c.mu.Lock()
		for _, t := range tags {
			keys := c.tags[t]
			if keys == nil {
				keys = make(map[string]struct{})
				c.tags[t] = keys
			}
			keys[key] = struct{}{}
		}
		c.mu.Unlock()
	}
	return res
}

// storable reports whether resp may be stored, and for how long.
func (c *Cache) storable(r *http.Request, resp *recordedResponse, vary []string) (time.Duration, bool) {
	switch resp.status {
	case 200, 203, 204, 301, 404, 410:
	default:
		return 0, false
	}
	if int64(len(resp.body)) > c.maxBody || len(resp.header.Values("Set-Cookie")) > 0 || slices.Contains(vary, "*") {
		return 0, false
	}
	cc := parseCacheControl(resp.header.Values("Cache-Control"))
	if cc.has("no-store") || cc.has("no-cache") || cc.has("private") {
		return 0, false
	}
	sMaxAge, hasS := cc.seconds("s-maxage")
	if r.Header.Get("Authorization") != "" && !cc.has("public") && !hasS {
		return 0, false
	}
	ttl := c.ttl
	if hasS {
		ttl = sMaxAge
	} else if maxAge, ok := cc.seconds("max-age"); ok {
		ttl = maxAge
	}
	return ttl, ttl > 0
}

// fresh reports whether e may answer a request with the given Cache-Control.
func (c *Cache) fresh(e *cacheEntry, reqCC cacheControl) bool {
	if reqCC.has("no-cache") {
		return false
	}
	if maxAge, ok := reqCC.seconds("max-age"); ok && time.Since(e.stored) > maxAge {
		return false
	}
	return true
}

// baseKey is the method, host, path, sorted query and the configured Vary headers.
func (c *Cache) baseKey(r *http.Request) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('|')
	b.WriteString(r.Host)
	b.WriteByte('|')
	b.WriteString(r.URL.EscapedPath())
	if r.URL.RawQuery != "" {
		b.WriteByte('?')
		b.WriteString(r.URL.Query().Encode()) // Encode sorts by parameter name
	}
	for _, h := range c.vary {
		writeVary(&b, r, h)
	}
	return b.String()
}

func varyKey(r *http.Request, names []string) string {
	var b strings.Builder
	for _, h := range names {
		writeVary(&b, r, h)
	}
	return b.String()
}

func writeVary(b *strings.Builder, r *http.Request, name string) {
	b.WriteString("|")
	b.WriteString(name)
	b.WriteByte('=')
	b.WriteString(strconv.Quote(strings.Join(r.Header.Values(name), ",")))
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
