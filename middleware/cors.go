package middleware

import (
	"net/http"
	"slices"

	"github.com/rs/cors"
)

// CORSOptions configures [NewCORS]. Fields map 1:1 to rs/cors's Options; the zero
// value allows simple requests (GET, POST, HEAD) from any origin without credentials.
type CORSOptions struct {
	// AllowedOrigins lists origins allowed to make cross-origin requests; "*" allows
	// all, and one "*" wildcard per origin is allowed ("https://*.example.com").
	// Default ["*"].
	AllowedOrigins []string `json:"allowedOrigins,omitempty"`
	// AllowedMethods lists the methods a client may use. Default GET, POST, HEAD.
	AllowedMethods []string `json:"allowedMethods,omitempty"`
	// AllowedHeaders lists the non-simple headers a client may send; "*" allows all.
	// Default Accept, Content-Type, X-Requested-With.
	AllowedHeaders []string `json:"allowedHeaders,omitempty"`
	// ExposedHeaders lists the response headers a client may read.
	ExposedHeaders []string `json:"exposedHeaders,omitempty"`
	// MaxAge is how long, in seconds, a preflight result may be cached. Default 0
	// (no Access-Control-Max-Age header); -1 sends 0, which disables caching.
	MaxAge int `json:"maxAge,omitempty" jsonschema:"minimum=-1,maximum=86400"`
	// AllowCredentials lets requests carry cookies, HTTP authentication or client
	// certificates. Requires explicit origins.
	AllowCredentials bool `json:"allowCredentials,omitempty"`
	// AllowPrivateNetwork answers Private Network Access preflights.
	AllowPrivateNetwork bool `json:"allowPrivateNetwork,omitempty"`
	// OptionsPassthrough passes preflight requests on to the inner chain instead of
	// answering them.
	OptionsPassthrough bool `json:"optionsPassthrough,omitempty"`
	// OptionsSuccessStatus is the status of answered preflights. Default 204.
	OptionsSuccessStatus int `json:"optionsSuccessStatus,omitempty" jsonschema:"minimum=200,maximum=299"`
}

// Validate reports credentials allowed for every origin, which browsers refuse, as
// a [ply.FieldError].
func (o CORSOptions) Validate() error {
	var p problems
	if o.AllowCredentials && (len(o.AllowedOrigins) == 0 || slices.Contains(o.AllowedOrigins, "*")) {
		p.add("allowedOrigins", `must list the origins when allowCredentials is set, not "*" (the default)`)
	}
	return p.err()
}

// NewCORS returns a layer that answers CORS preflight requests and adds the CORS
// headers to actual requests, with rs/cors. A request from a disallowed origin is
// passed on without CORS headers, so the browser blocks its response.
func NewCORS(opts CORSOptions) (func(http.Handler) http.Handler, error) {
	if err := checked("cors", opts); err != nil {
		return nil, err
	}
	c := cors.New(cors.Options{
		AllowedOrigins:       opts.AllowedOrigins,
		AllowedMethods:       opts.AllowedMethods,
		AllowedHeaders:       opts.AllowedHeaders,
		ExposedHeaders:       opts.ExposedHeaders,
		MaxAge:               opts.MaxAge,
		AllowCredentials:     opts.AllowCredentials,
		AllowPrivateNetwork:  opts.AllowPrivateNetwork,
		OptionsPassthrough:   opts.OptionsPassthrough,
		OptionsSuccessStatus: opts.OptionsSuccessStatus,
	})
	return c.Handler, nil
}
