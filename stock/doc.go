// Package stock holds ply's stock plugins: each wraps one layer of package
// middleware as a plugin with a schema'd options struct, so a host — in
// code or in a ply.yaml — gets recover, request ids, access logs, auth,
// rate limits, CORS, caching, timeouts, retries, circuit breakers,
// bulkheads, metrics, tracing and error reports by name.
//
// # Order
//
// Each plugin has a priority in one of ply's bands (lower wraps further
// out); operators override it with [ply.WithPriority]. Outermost first:
//
//	recover      System            50  Recover
//	requestid    System+10         60  RequestID
//	cors         Security-10       90  CORS
//	auth         Security         100  Auth
//	ratelimit    Security+10      110  RateLimit
//	metrics      Logging-10       190  Metrics
//	tracing      Logging-5        195  Tracing
//	accesslog    Logging          200  AccessLog
//	errorreport  Logging+5        205  ErrorReport
//	timeout      Logging+50       250  Timeout
//	breaker      Performance-20   380  Breaker
//	bulkhead     Performance-10   390  Bulkhead
//	retry        Performance-5    395  Retry
//	cache        Performance      400  Cache
//
// The Security band wraps the Logging band: requests that CORS, auth or the
// rate limit answer are not logged, measured or traced.
//
// # Options
//
// A plugin's options are the middleware's options struct ([MetricsOptions]
// and [TracingOptions] add their own fields); the zero value is the
// middleware's default, except for auth, which needs an API key or a JWT
// key source. Every stock plugin also takes route options ([Route]):
// `skip: true` leaves that route (or, as module options, that module)
// unwrapped.
//
// # APIs
//
// The cache plugin provides its cache under [CacheKey], for invalidation by
// tag; the metrics plugin provides its Prometheus endpoint under
// [MetricsKey], for the plugin that serves it.
//
// # Typed APIs for other plugins
//
// Two stock plugins add no layer but serve other plugins: "batch"
// ([Batching], via [BatchingKey]) makes dataloader batch loaders with
// [Loader], and "pool" ([Pools], via [PoolsKey]) makes puddle resource
// pools with [Pool] that the host closes on Stop and reports in health.
//
// # Catalog
//
// [Catalog] returns every stock plugin, and the HTTP server, by name; the
// ply command knows them all. [All] returns the stock plugins in order.
package stock
