package config

// The built-in route handlers a ply.yaml can name: static answers, a
// reverse proxy and a files directory.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/plykit/ply"
)

// Static answers with a fixed status, headers and body (text or JSON).
type Static struct {
	Status  int               `json:"status,omitempty" jsonschema:"minimum=100,maximum=599"`
	Text    string            `json:"text,omitempty"`
	JSON    any               `json:"json,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
}

// Proxy forwards to an upstream URL.
type Proxy struct {
	URL string `json:"url" jsonschema:"required,pattern=^https?://"`
}

// Files serves a directory.
type Files struct {
	Dir string `json:"dir" jsonschema:"required,minLength=1"`
}

// builtin returns the handler of a route under the module prefix.
func builtin(r Route, prefix string) (ply.HandlerFunc, error) {
	switch {
	case r.Static != nil:
		s := *r.Static
		status := s.Status
		if status == 0 {
			status = http.StatusOK
		}
		body, ctype := []byte(s.Text), "text/plain; charset=utf-8"
		if s.JSON != nil {
			b, err := json.Marshal(s.JSON)
			if err != nil {
				return nil, fmt.Errorf("static json: %w", err)
			}
			body, ctype = append(b, '\n'), "application/json"
		}
		return serve(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			for k, v := range s.Headers {
				w.Header().Set(k, v)
			}
			if w.Header().Get("Content-Type") == "" {
				w.Header().Set("Content-Type", ctype)
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(status)
			_, _ = w.Write(body)
		})), nil
	case r.Proxy != nil:
		u, err := url.Parse(r.Proxy.URL)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("proxy url %q: want an absolute http(s) URL", r.Proxy.URL)
		}
		return serve(httputil.NewSingleHostReverseProxy(u)), nil
	case r.Files != nil:
		if st, err := os.Stat(r.Files.Dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("files dir %q: not a directory", r.Files.Dir)
		}
		_, path, ok := strings.Cut(r.Route, " ")
		if !ok {
			path = r.Route
		}
		if i := strings.IndexByte(path, '{'); i >= 0 { // serve what follows the pattern's literal part
			path = path[:i]
		}
		strip := strings.TrimSuffix(strings.TrimSuffix(prefix, "/")+path, "/")
		return serve(http.StripPrefix(strip, http.FileServerFS(os.DirFS(r.Files.Dir)))), nil
	}
	return nil, errors.New("route has no handler")
}

// serve turns an http.Handler into a ply handler.
func serve(h http.Handler) ply.HandlerFunc {
	return func(_ context.Context, c *ply.Call) error {
		w, _ := c.Response().(http.ResponseWriter)
		r, _ := c.Request().(*http.Request)
		if w == nil || r == nil {
			return errors.New("an HTTP route was called without an HTTP request")
		}
		h.ServeHTTP(w, r)
		return nil
	}
}
