package middleware

// The RFC 9111 rules of the cache: what a shared cache may store, for how
// long a stored response is fresh, how old it is, and when a request may be
// answered with it.

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	// heuristicCap bounds the freshness guessed from Last-Modified (RFC 9111 §4.2.2).
	heuristicCap = 24 * time.Hour
	// staleRetention is how long a stale response that has a validator is kept,
	// to be revalidated with a conditional request instead of fetched whole.
	staleRetention = time.Hour
)

// heuristicallyCacheable lists the statuses that RFC 9110 §15.1 defines as
// heuristically cacheable (206 left out: the cache does not store partial content).
func heuristicallyCacheable(status int) bool {
	switch status {
	case 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// storableStatus reports whether the cache understands status as a final,
// complete response that it may store (RFC 9111 §3).
func storableStatus(status int) bool {
	return status >= 200 && status != http.StatusPartialContent && status != http.StatusNotModified &&
		http.StatusText(status) != ""
}

// credentialed reports whether r carries credentials or was authenticated: such
// a request is never coalesced with others, and its response is stored only
// when it says public or s-maxage.
func credentialed(r *http.Request) bool {
	h := r.Header
	return len(h["Authorization"]) > 0 || len(h["X-Api-Key"]) > 0 || len(h["Cookie"]) > 0 ||
		len(h["Proxy-Authorization"]) > 0 || PrincipalFrom(r.Context()) != nil
}

// requestDirectives are the Cache-Control directives of a request that the
// cache acts on (RFC 9111 §5.2.1).
type requestDirectives struct {
	noStore, noCache, onlyIfCached bool
	maxAge, minFresh, maxStale     time.Duration
	hasMaxAge, hasMinFresh         bool
	hasMaxStale                    bool // max-stale: with no value, any staleness is accepted
	maxStaleAny                    bool
}

func parseRequestDirectives(h http.Header) requestDirectives {
	var d requestDirectives
	values := h["Cache-Control"]
	if len(values) == 0 {
		// Pragma: no-cache counts only without Cache-Control (RFC 9111 §5.4).
		for _, v := range h["Pragma"] {
			if strings.Contains(strings.ToLower(v), "no-cache") {
				d.noCache = true
			}
		}
		return d
	}
	cc := parseCacheControl(values)
	d.noStore, d.noCache, d.onlyIfCached = cc.has("no-store"), cc.has("no-cache"), cc.has("only-if-cached")
	d.maxAge, d.hasMaxAge = cc.seconds("max-age")
	d.minFresh, d.hasMinFresh = cc.seconds("min-fresh")
	if arg, ok := cc["max-stale"]; ok {
		d.hasMaxStale = true
		if arg == "" {
			d.maxStaleAny = true
		} else {
			d.maxStale, _ = cc.seconds("max-stale")
		}
	}
	return d
}

// policy is what the cache decided about a response it may store.
type policy struct {
	lifetime       time.Duration // freshness lifetime; 0 means stale at once
	initialAge     time.Duration // corrected_initial_age of RFC 9111 §4.2.3
	mustRevalidate bool          // never served stale, even to a request that allows it
	keep           time.Duration // how long the store keeps the entry
}

// responsePolicy applies RFC 9111 (§3, §4.2) and RFC 9213 to a response
// received at responseTime for a request sent at requestTime. ok is false when
// the response must not be stored. ttl is the opt-in lifetime of responses
// without explicit freshness (0: guess it from Last-Modified).
func responsePolicy(resp *recordedResponse, vary []string, cred bool, ttl time.Duration, requestTime, responseTime time.Time) (p policy, ok bool) {
	h := resp.header
	if !storableStatus(resp.status) || len(h["Set-Cookie"]) > 0 || slices.Contains(vary, "*") {
		return p, false
	}
	// A targeted field (RFC 9213) replaces Cache-Control and Expires for this cache.
	cc, targeted := parseCacheControl(h["Cdn-Cache-Control"]), true
	if len(cc) == 0 {
		cc, targeted = parseCacheControl(h["Cache-Control"]), false
	}
	if cc.has("no-store") && !cc.has("must-understand") || cc.has("private") {
		return p, false
	}
	sMaxAge, hasS := cc.seconds("s-maxage")
	if cred && !cc.has("public") && !hasS {
		return p, false
	}
	date, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		date = responseTime
	}
	mayGuess := heuristicallyCacheable(resp.status) || cc.has("public")
	switch maxAge, hasMaxAge := cc.seconds("max-age"); {
	case hasS:
		p.lifetime = sMaxAge
	case hasMaxAge:
		p.lifetime = maxAge
	case !targeted && len(h["Expires"]) > 0:
		if exp, err := http.ParseTime(h.Get("Expires")); err == nil && exp.After(date) {
			p.lifetime = exp.Sub(date)
		} // an invalid Expires, such as "0", means already expired
	case mayGuess && ttl > 0:
		p.lifetime = ttl
	case mayGuess:
		if lm, err := http.ParseTime(h.Get("Last-Modified")); err == nil && date.After(lm) {
			p.lifetime = min(date.Sub(lm)/10, heuristicCap)
		}
	}
	if cc.has("no-cache") {
		p.lifetime = 0 // stored, but revalidated before every use
	}
	p.mustRevalidate = hasS || cc.has("must-revalidate") || cc.has("proxy-revalidate") || cc.has("no-cache")

	// Age (RFC 9111 §4.2.3), in whole seconds as the Date header has them.
	apparent := max(0, responseTime.Truncate(time.Second).Sub(date))
	corrected := ageValue(h) + responseTime.Sub(requestTime)
	p.initialAge = max(apparent, corrected)

	validator := len(h["Etag"]) > 0 || len(h["Last-Modified"]) > 0
	remaining := p.lifetime - p.initialAge
	switch {
	case validator:
		p.keep = max(remaining, 0) + staleRetention
	case remaining > 0:
		p.keep = remaining
	default:
		return p, false // stale already, and nothing to revalidate it with
	}
	return p, true
}

// ageValue returns a response's Age header, or 0 when it has none or an invalid one.
func ageValue(h http.Header) time.Duration {
	v := h["Age"]
	if len(v) == 0 {
		return 0
	}
	s := strings.TrimSpace(v[0])
	if i := strings.IndexByte(s, ','); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if s != "" && strings.Trim(s, "0123456789") == "" {
			return 1 << 31 * time.Second // too large to parse: as old as can be
		}
		return 0
	}
	if n < 0 {
		return 0
	}
	return time.Duration(min(n, 1<<31)) * time.Second
}

// usable reports whether e may answer a request with directives d at now
// without contacting the origin (RFC 9111 §4.2, §5.2.1).
func (e *cacheEntry) usable(d requestDirectives, now time.Time) bool {
	if e.resp == nil || d.noCache {
		return false
	}
	age := e.age(now)
	if d.hasMaxAge && age > d.maxAge {
		return false
	}
	left := e.lifetime - age
	if d.hasMinFresh && left < d.minFresh {
		return false
	}
	if left > 0 {
		return true
	}
	if e.mustRevalidate || !d.hasMaxStale {
		return false
	}
	return d.maxStaleAny || -left <= d.maxStale
}

// age is the current age of e at now (RFC 9111 §4.2.3).
func (e *cacheEntry) age(now time.Time) time.Duration {
	return e.initialAge + max(0, now.Sub(e.responseTime))
}

// revalidatable reports whether e has a validator for a conditional request.
func (e *cacheEntry) revalidatable() bool {
	return e.resp != nil && (e.etag != "" || e.lastModified != "")
}

// notModified evaluates the conditional headers of r against a stored response
// (RFC 9110 §13.2.2): true when the client's copy is current.
func notModified(r *http.Request, etag, lastModified string) bool {
	if inm := r.Header["If-None-Match"]; len(inm) > 0 {
		if etag == "" {
			return false
		}
		for _, tag := range splitList(inm) {
			if tag == "*" || weakMatch(tag, etag) {
				return true
			}
		}
		return false
	}
	ims := r.Header.Get("If-Modified-Since")
	if ims == "" || lastModified == "" {
		return false
	}
	since, err := http.ParseTime(ims)
	if err != nil {
		return false
	}
	lm, err := http.ParseTime(lastModified)
	return err == nil && !lm.After(since)
}

// weakMatch compares entity tags with the weak comparison of RFC 9110 §8.8.3.2.
func weakMatch(a, b string) bool {
	return strings.TrimPrefix(a, "W/") == strings.TrimPrefix(b, "W/")
}

// hopByHop lists the header fields that a 304 does not update in a stored
// response (RFC 9111 §3.2): connection-specific fields and the length.
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length"}

// updated returns a copy of rr whose header fields are replaced by those of a
// 304 response that validated it (RFC 9111 §4.3.4).
func (rr *recordedResponse) updated(h http.Header) *recordedResponse {
	out := &recordedResponse{status: rr.status, header: rr.header.Clone(), body: rr.body}
	for k, v := range h {
		if slices.Contains(hopByHop, k) {
			continue
		}
		out.header[k] = slices.Clone(v)
	}
	return out
}
