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
//	metrics      System+20         70  Metrics
//	tracing      System+25         75  Tracing
//	accesslog    System+30         80  AccessLog
//	errorreport  System+35         85  ErrorReport
//	cors         Security-10       90  CORS
//	ratelimit    Security-5        95  RateLimit
//	auth         Security         100  Auth
//	timeout      Logging+50       250  Timeout
//	breaker      Performance-20   380  Breaker
//	bulkhead     Performance-10   390  Bulkhead
//	retry        Performance-5    395  Retry
//	cache        Performance      400  Cache
//
// The observability plugins wrap the Security band: every request is
// measured, traced and logged with the status its client got, the
// preflights CORS answers, the 401s and 403s of auth and the 429s of the
// rate limit included, so failed logins and floods show in the access log
// and the metrics. Only recover and the request id are further out:
// every record carries the request id, and recover answers a panic once
// the layers inside have logged and counted it as a 500.
//
// # Errors
//
// A handler or layer that returns an error is answered by the HTTP host
// where the error first leaves the ply chain for net/http middleware, so
// the access log and metrics outside see the status it stands for (see
// [github.com/plykit/ply/httpserver.Status]: 500, 504 for a deadline, or
// the error's own StatusCode), and it is logged once, as "request
// failed", naming the route and, for a [*ply.PluginError], the plugin.
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
// tag; the metrics plugin provides the endpoint it was given
// ([MetricsOptions].Handler, such as a Prometheus exporter's) under
// [MetricsKey], for the plugin that serves it.
//
// # Telemetry
//
// The metrics and tracing plugins use the OpenTelemetry API only: they take
// a MeterProvider and a TracerProvider in their options, else the global
// ones. The application wires the SDK and its exporters (the ply command
// does: Prometheus on the metrics plugin's path, spans to stdout); see
// [NewMetrics]'s example.
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
