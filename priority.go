package ply

// Priority bands. Lower runs first in the lifecycle (after dependencies) and
// wraps further out in the chain. Any int is a valid priority; the bands are
// names for the usual places. A zero [Info.Priority] means [Business].
const (
	System      = 50   // kernel-level layers: recover, request scope
	Security    = 100  // authentication, authorization, rate limits
	Logging     = 200  // access logs, metrics, tracing
	Business    = 300  // application plugins (the default)
	Performance = 400  // caches, batching, compression
	Route       = 1000 // route plugins that mount the wrapped handlers
)

// Band names the band a priority is ("security" for 100), or returns ""
// for a priority between bands.
func Band(p int) string {
	switch p {
	case System:
		return "system"
	case Security:
		return "security"
	case Logging:
		return "logging"
	case Business:
		return "business"
	case Performance:
		return "performance"
	case Route:
		return "route"
	}
	return ""
}
