// Package middleware provides ply's stock HTTP layers as plain net/http middleware,
// func(http.Handler) http.Handler. Each layer has an options struct whose zero value
// is a sensible default, with json and jsonschema tags (the limits) so that a plugin
// can expose it as its options, and, where needed, a Validate method for the rules a
// schema cannot express. Every
// constructor validates its options and returns an error that names the option and
// the fix. Layers that hold state are types with a Middleware method (and Close when
// they own goroutines).
//
// # Options
//
// A constructor checks its options as a host checks a plugin's: the limits in the
// jsonschema tags, then the Validate method for what a schema cannot say. Invalid
// options make it return one [*option.Error] per problem, joined with
// [errors.Join], each naming the layer (as Plugin), the field and the fix
// ("plugin ratelimit: burst: must be >= 1, got -1"). The package does not import
// ply: a plain net/http program links the options checker, not the kernel.
//
// # Routes
//
// Layers that read the route ([http.Request.Pattern]: access log, breaker, metrics,
// tracing) see it when they wrap a handler registered on an [http.ServeMux], as ply
// does by compiling one chain per handler.
//
// # Order
//
// A stack that works, outermost first: [NewRecover] (so that it catches every
// panic), [NewRequestID], [NewTracing], [NewMetrics], [NewAccessLog] and
// [NewErrorReport] (so that they see the final status, request ID and span),
// [NewCORS] (preflights carry no credentials), [RateLimit] by client address
// (so that failed logins are limited too), [Auth], [NewBulkhead], [NewTimeout], [Breaker], [NewRetry] (the
// breaker counts a request once, after its retries) and [Cache].
//
// # Recover
//
// [NewRecover] turns panics into 500 problem responses and logs them with slog.
//
// # Request ID
//
// [NewRequestID] gives each request an ID, in a header and in the context
// ([RequestIDFrom]).
//
// # Access log
//
// [NewAccessLog] logs one slog record per request.
//
// # Authentication
//
// [NewAuth] checks API keys and JWTs (golang-jwt/jwt/v5, MicahParks/keyfunc/v3 and
// jwkset for JWKS) and required scopes, and puts the caller in the context
// ([PrincipalFrom]). It logs each rejected credential (never the credential),
// removes the header that carried it before the inner chain unless told to forward
// it, requires a JWT's issuer and audience unless waived, and fetches a JWKS URL in
// the background, at most every 10 seconds on demand, reporting [Auth.Health]
// degraded until the first fetch.
//
// # CORS
//
// [NewCORS] answers preflights and sets CORS headers with rs/cors. With credentials
// it refuses origins that cover any host ("*", "https://*", "null"…); a subdomain
// wildcard ("https://*.example.com") is allowed.
//
// # Rate limit
//
// [NewRateLimit] limits requests per client IP (an IPv6 client by its /64),
// principal or header with token buckets (golang.org/x/time/rate), kept in a bounded
// store (maypok86/otter/v2). Its "principal" key needs [Auth] outside it.
//
// # Timeout
//
// [NewTimeout] gives each request a context deadline and answers 503 or 504 when it
// passes.
//
// # Cache
//
// [NewCache] is a shared cache in the sense of RFC 9111 for GET and HEAD responses
// (maypok86/otter/v2, bounded by bytes): freshness follows the origin (a TTL is an
// opt-in), stale responses are revalidated, unsafe methods invalidate, and
// concurrent misses collapse (golang.org/x/sync/singleflight) except for requests
// with credentials, whose responses stay private unless they say public. It also
// invalidates by tag.
//
// # Retry
//
// [NewRetry] runs idempotent requests again on 502, 503 and 504, with exponential
// backoff (cenkalti/backoff/v5).
//
// # Circuit breaker
//
// [NewBreaker] fails fast with 503 while a route keeps failing (sony/gobreaker/v2).
//
// # Bulkhead
//
// [NewBulkhead] bounds the number of requests in flight
// (golang.org/x/sync/semaphore).
//
// # Metrics and tracing
//
// [NewMetrics] records request counts, errors, durations and requests in flight with
// the OpenTelemetry metrics API; [NewTracing] runs each request in a span.
//
// # Error reporting
//
// [NewErrorReport] passes 5xx responses and panics to a [Reporter].
package middleware
