package middleware

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/rs/cors"
)

// CORSOptions configures [NewCORS]. Fields map 1:1 to rs/cors's Options; the zero
// value allows simple requests (GET, POST, HEAD) from any origin without credentials.
type CORSOptions struct {
	// AllowedOrigins lists origins allowed to make cross-origin requests, each
	// "scheme://host[:port]"; "*" allows all, and one "*" wildcard per origin is
	// allowed ("https://*.example.com"). Default ["*"].
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
	// certificates, and lets the allowed origins read the responses. It requires
	// explicit origins: not "*", not "null", and no wildcard that covers any host
	// ("https://*", "*://…"); a subdomain wildcard ("https://*.example.com") is
	// allowed, so every subdomain must be trusted.
	AllowCredentials bool `json:"allowCredentials,omitempty"`
	// AllowPrivateNetwork answers Private Network Access preflights.
	AllowPrivateNetwork bool `json:"allowPrivateNetwork,omitempty"`
	// OptionsPassthrough passes preflight requests on to the inner chain instead of
	// answering them.
	OptionsPassthrough bool `json:"optionsPassthrough,omitempty"`
	// OptionsSuccessStatus is the status of answered preflights. Default 204.
	OptionsSuccessStatus int `json:"optionsSuccessStatus,omitempty" jsonschema:"minimum=200,maximum=299"`
}

// Validate reports, as [*option.Error] values, origins that are not
// "scheme://host[:port]" or hold more than one "*", and, when AllowCredentials is
// set, origins that would let any site read responses made with the user's
// cookies: "*", a wildcard that covers any host ("https://*", "*://app.example.com",
// "https://*example.com", "https://example.*"), and "null", which sandboxed
// iframes and local files send. A subdomain wildcard ("https://*.example.com")
// is allowed with credentials.
func (o CORSOptions) Validate() error {
	var p problems
	if o.AllowCredentials && len(o.AllowedOrigins) == 0 {
		p.add("allowedOrigins", `must list the origins when allowCredentials is set: the default, "*", would let every site read responses made with the user's cookies`)
	}
	for i, origin := range o.AllowedOrigins {
		if problem := checkOrigin(origin, o.AllowCredentials); problem != "" {
			p.add(fmt.Sprintf("allowedOrigins[%d]", i), "%s", problem)
		}
	}
	return p.err()
}

// checkOrigin returns what is wrong with one allowed origin, or "".
func checkOrigin(origin string, credentials bool) string {
	const fix = `; list the origins ("https://app.example.com") or a subdomain wildcard ("https://*.example.com"), or set allowCredentials: false`
	switch {
	case origin == "*":
		if credentials {
			return `"*" lets every site read responses made with the user's cookies` + fix
		}
		return ""
	case strings.EqualFold(origin, "null"):
		if credentials {
			return `"null" is the origin of every sandboxed iframe and local file, so any site can send it` + fix
		}
		return ""
	case strings.Count(origin, "*") > 1:
		return fmt.Sprintf("%q has more than one *; use one wildcard per origin, such as \"https://*.example.com\"", origin)
	}
	scheme, hostport, ok := strings.Cut(origin, "://")
	probe := strings.Replace(origin, "*", "x", 1) // a label, for url.Parse
	if strings.HasSuffix(origin, ":*") {
		probe = strings.TrimSuffix(origin, "*") + "1" // a port
	}
	u, err := url.Parse(probe)
	if !ok || scheme == "" || hostport == "" || err != nil || u.Host == "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Sprintf("%q is not an origin; write scheme://host[:port] with no path, such as \"https://app.example.com\"", origin)
	}
	if !credentials || !strings.Contains(origin, "*") {
		return ""
	}
	host, port, hasPort := strings.Cut(hostport, ":")
	domain, sub := strings.CutPrefix(host, "*.")
	if !strings.Contains(scheme, "*") && (sub && !strings.Contains(domain, "*") && strings.Contains(domain, ".") || !strings.Contains(host, "*") && hasPort && port == "*") {
		return "" // a subdomain wildcard of a domain with at least two labels, or any port of one host
	}
	return fmt.Sprintf("%q covers hosts of any site, which could then read responses made with the user's cookies", origin) + fix
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
