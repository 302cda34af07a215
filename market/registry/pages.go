package registry

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/plykit/ply/market"
	"github.com/plykit/ply/wasm/abi"
)

// The pages are html/template, rendered on the server: no script, no
// build step, every value escaped by the template's context. A review is
// posted by a form whose token field is the reviewer's account token, not
// a cookie: a page elsewhere cannot post in the user's name, so there is
// nothing for cross-site request forgery to ride on.

//go:embed pages/*.html
var pageFiles embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"stars": func(avg any) string {
		var n int
		switch v := avg.(type) {
		case int:
			n = v
		case float64:
			n = int(v + 0.5)
		}
		n = min(max(n, 0), 5)
		return strings.Repeat("★", n) + strings.Repeat("☆", 5-n)
	},
	"avg":  func(avg float64) string { return strconv.FormatFloat(avg, 'f', 1, 64) },
	"date": func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12] + "…"
		}
		return s
	},
	"hostABI": func() uint32 { return abi.Version },
	"seq":     func() []int { return []int{5, 4, 3, 2, 1} },
}).ParseFS(pageFiles, "pages/*.html"))

func (s *Server) pageRoutes() {
	s.mux.HandleFunc("GET /{$}", s.searchPage)
	s.mux.HandleFunc("GET /plugins/{name}", s.pluginPage)
	s.mux.HandleFunc("POST /plugins/{name}/reviews", s.reviewForm)
}

// render writes a page; a template error is a server error, logged.
func (s *Server) render(w http.ResponseWriter, r *http.Request, code int, name string, data any) {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		s.cfg.Logger.ErrorContext(r.Context(), "registry page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(code)
	_, _ = w.Write(b.Bytes()) // the client went away: nothing to do
}

type searchData struct {
	Query   string
	Results []market.Summary
}

func (s *Server) searchPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("q")
	res, err := s.db.search(r.Context(), q, 50)
	if err != nil {
		s.cfg.Logger.ErrorContext(r.Context(), "registry search", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	s.render(w, r, http.StatusOK, "search.html", searchData{Query: q, Results: res})
}

type pluginData struct {
	*market.Plugin
	Latest *market.Version // the latest version's details; nil when all are yanked
	Error  string          // a refused review
	Posted bool            // a review was just posted
	Text   string          // the refused review's text, kept in the form
}

func (s *Server) pluginPage(w http.ResponseWriter, r *http.Request) {
	s.showPlugin(w, r, http.StatusOK, pluginData{Posted: r.URL.Query().Get("posted") == "1"})
}

func (s *Server) showPlugin(w http.ResponseWriter, r *http.Request, code int, d pluginData) {
	p, err := s.db.plugin(r.Context(), r.PathValue("name"))
	if errors.Is(err, ErrNotFound) {
		s.render(w, r, http.StatusNotFound, "notfound.html", r.PathValue("name"))
		return
	}
	if err != nil {
		s.cfg.Logger.ErrorContext(r.Context(), "registry plugin page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	d.Plugin = p
	for i := range p.Versions {
		if p.Versions[i].Version == p.Latest {
			d.Latest = &p.Versions[i]
		}
	}
	s.render(w, r, code, "plugin.html", d)
}

// reviewForm posts the page's review form, then shows the page again
// (303 on success, so a reload does not post twice).
func (s *Server) reviewForm(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.showPlugin(w, r, http.StatusBadRequest, pluginData{Error: "the form is too large or malformed"})
		return
	}
	rating, _ := strconv.Atoi(r.PostForm.Get("rating"))
	rv := market.Review{Rating: rating, Text: r.PostForm.Get("text"), Version: r.PostForm.Get("version")}
	err := s.Review(r.Context(), strings.TrimSpace(r.PostForm.Get("token")), r.PathValue("name"), rv)
	if err != nil {
		msg := err.Error()
		if status(err) == http.StatusInternalServerError {
			s.cfg.Logger.ErrorContext(r.Context(), "registry review", "err", err)
			msg = "internal error"
		}
		s.showPlugin(w, r, status(err), pluginData{Error: msg, Text: rv.Text})
		return
	}
	// The name is a plugin's that exists (Review found it), escaped: the
	// target stays on this site.
	http.Redirect(w, r, "/plugins/"+url.PathEscape(r.PathValue("name"))+"?posted=1#reviews", http.StatusSeeOther)
}
