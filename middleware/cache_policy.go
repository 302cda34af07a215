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
	// staleRetention is how long a response is kept once stale: to be
	// revalidated with a conditional request instead of fetched whole, or served
	// while the origin cannot be reached (RFC 9111 §4.2.4).
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

// storableStatus reports whether a response with status is final and complete,
// so that the cache may store it (RFC 9111 §3): partial content and 304 are not.
func storableStatus(status int) bool {
	return status >= 200 && status <= 999 && status != http.StatusPartialContent && status != http.StatusNotModified
}

// understood reports whether the cache knows the semantics of status, as
// must-understand requires (RFC 9111 §5.2.2.3).
func understood(status int) bool { return http.StatusText(status) != "" }

// httpDate parses an HTTP-date (RFC 9110 §5.6.7) in any of its three formats,
// strictly: a value that does not format back to itself (case aside) is invalid,
// such as a one-digit hour or doubled spaces.
func httpDate(values []string) (time.Time, bool) {
	if len(values) != 1 {
		return time.Time{}, false
	}
	v := strings.TrimSpace(values[0])
	for _, layout := range []string{http.TimeFormat, time.RFC850, time.ANSIC} {
		if t, err := time.Parse(layout, v); err == nil && strings.EqualFold(t.Format(layout), v) {
			return t, true
		}
	}
	return time.Time{}, false
}

// targeted parses a targeted cache-control field such as CDN-Cache-Control
// (RFC 9213), a Structured Field dictionary. ok is false when the field is
// absent or invalid: then Cache-Control applies.
func targeted(values []string) (cc cacheControl, ok bool) {
	cc = cacheControl{}
	for _, v := range values {
		for member := range strings.SplitSeq(v, ",") {
			member = strings.TrimSpace(member)
			member, _, _ = strings.Cut(member, ";") // parameters do not matter here
			key, value, hasValue := strings.Cut(member, "=")
			key = strings.ToLower(key)
			if !sfKey(key) || hasValue && (value == "" || strings.ContainsAny(value, " \t")) {
				return nil, false
			}
			if key == "max-age" || key == "s-maxage" {
				if strings.Trim(value, "0123456789") != "" || value == "" || len(value) > 15 {
					return nil, false // an Integer is required
				}
			}
			cc[key] = value
		}
	}
	return cc, len(cc) > 0
}

// sfKey reports whether k is a Structured Field key (RFC 8941 §3.2).
func sfKey(k string) bool {
	if k == "" || k[0] != '*' && (k[0] < 'a' || k[0] > 'z') {
		return false
	}
	for _, c := range []byte(k) {
		if !sfKeyByte(c) {
			return false
		}
	}
	return true
}

// sfKeyByte reports whether c may be in a Structured Field key: a lowercase
// letter, a digit, '_', '-', '.' or '*'.
func sfKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*'
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
	staleIfError   time.Duration // stale-if-error (RFC 5861): how long stale it may answer errors
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
	cc, isTargeted := targeted(h["Cdn-Cache-Control"])
	if !isTargeted {
		cc = parseCacheControl(h["Cache-Control"])
	}
	if cc.has("must-understand") {
		if !understood(resp.status) {
			return p, false
		}
	} else if cc.has("no-store") {
		return p, false
	}
	if cc.has("private") {
		return p, false
	}
	sMaxAge, hasS := cc.seconds("s-maxage")
	if cred && !cc.has("public") && !hasS {
		return p, false
	}
	date, ok := httpDate(h["Date"])
	if !ok {
		date = responseTime
	}
	mayGuess := heuristicallyCacheable(resp.status) || cc.has("public")
	switch maxAge, hasMaxAge := cc.seconds("max-age"); {
	case hasS:
		p.lifetime = sMaxAge
	case hasMaxAge:
		p.lifetime = maxAge
	case !isTargeted && len(h["Expires"]) > 0:
		if exp, ok := httpDate(h["Expires"]); ok && exp.After(date) {
			p.lifetime = exp.Sub(date)
		} // an invalid Expires, such as "0", means already expired
	case mayGuess && ttl > 0:
		p.lifetime = ttl
	case mayGuess:
		if lm, ok := httpDate(h["Last-Modified"]); ok && date.After(lm) {
			p.lifetime = min(date.Sub(lm)/10, heuristicCap)
		}
	}
	if cc.has("no-cache") {
		p.lifetime = 0 // stored, but revalidated before every use
	}
	p.mustRevalidate = hasS || cc.has("must-revalidate") || cc.has("proxy-revalidate") || cc.has("no-cache")
	p.staleIfError, _ = cc.seconds("stale-if-error")

	// Age (RFC 9111 §4.2.3), in whole seconds as the Date header has them.
	apparent := max(0, responseTime.Truncate(time.Second).Sub(date))
	corrected := ageValue(h) + responseTime.Sub(requestTime)
	p.initialAge = max(apparent, corrected)

	validator := len(h["Etag"]) > 0 || len(h["Last-Modified"]) > 0
	remaining := p.lifetime - p.initialAge
	if remaining <= 0 && !validator {
		return p, false // stale already, and nothing to revalidate it with
	}
	p.keep = max(remaining, 0) + staleRetention
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

// servesError reports whether stale e may stand in, at now, for a response
// with status from an origin that failed (RFC 9111 §4.2.4, RFC 5861): a 502 or
// 504 means the origin could not be reached; other server errors need
// stale-if-error. must-revalidate and its kin forbid both, and a stored error
// never stands in.
func (e *cacheEntry) servesError(status int, now time.Time) bool {
	if e.resp == nil || e.resp.status >= 500 || e.mustRevalidate || status < 500 {
		return false // an error does not stand in for an error
	}
	if status == http.StatusBadGateway || status == http.StatusGatewayTimeout {
		return true
	}
	return e.age(now)-e.lifetime <= e.staleIfError
}

// revalidatable reports whether e has a validator for a conditional request.
func (e *cacheEntry) revalidatable() bool {
	return e != nil && e.resp != nil && (e.etag != "" || e.lastModified != "")
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
	since, ok := httpDate([]string{ims})
	if !ok {
		return false
	}
	lm, ok := httpDate([]string{lastModified})
	return ok && !lm.After(since)
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
