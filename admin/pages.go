package admin

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

//go:embed ui
var ui embed.FS

// static is the page's script and style, served under /static/.
var static = func() fs.FS {
	sub, err := fs.Sub(ui, "ui")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}()

var funcs = template.FuncMap{
	"ms": func(d time.Duration) string {
		switch {
		case d == 0:
			return "0"
		case d < time.Microsecond:
			return fmt.Sprintf("%dns", d.Nanoseconds())
		case d < time.Millisecond:
			return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond))
		default:
			return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
		}
	},
	"pct": func(part, whole time.Duration) string {
		if whole <= 0 {
			return "0"
		}
		return fmt.Sprintf("%.2f", 100*float64(part)/float64(whole))
	},
	"svg": func(s string) template.HTML { return template.HTML(s) }, //nolint:gosec // drawn by internal/draw, every text in it escaped
	"json": func(v any) string {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err.Error()
		}
		return string(b)
	},
	"rate": func(f float64) string { return fmt.Sprintf("%.1f/s", f) },
	"when": func(t time.Time) string { return t.Format("15:04:05.000") },
	"lines": func(s string) []string {
		return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	},
	"prefix": func(s string) string {
		if s == "" {
			return " "
		}
		return s[:1]
	},
}

// pages holds one template set per page: the layout and the page's own
// "main" and "live" blocks.
var pages = func() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, name := range []string{"overview", "graph", "plugin", "chains", "calls", "call", "jobs", "reload", "logs"} {
		out[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(ui, "ui/layout.html", "ui/"+name+".html"))
	}
	return out
}()

// view is what the layout renders.
type view struct {
	Page  string
	Title string
	CSRF  string
	Data  any
	Err   string
	Live  string // a hash of the live part: the script swaps it in only when it changed
}

// page renders a page with what data returns. A request with the header
// X-Fragment: live gets only the page's live part, which the script swaps
// in on every server-sent tick.
func (p *Plugin) page(name string, data func(r *http.Request) (string, any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		title, d, err := data(r)
		v := view{Page: name, Title: title, CSRF: p.csrf, Data: d}
		status := http.StatusOK
		if err != nil {
			v.Err, status = err.Error(), statusOf(err)
		}
		var b bytes.Buffer
		if err := pages[name].ExecuteTemplate(&b, "live", v); err != nil {
			http.Error(w, "rendering the page: "+err.Error(), http.StatusInternalServerError)
			return
		}
		sum := sha256.Sum256(b.Bytes())
		v.Live = hex.EncodeToString(sum[:8])
		w.Header().Set("X-Live-Hash", v.Live)
		if r.Header.Get("X-Fragment") != "live" {
			b.Reset()
			if err := pages[name].ExecuteTemplate(&b, "layout", v); err != nil {
				http.Error(w, "rendering the page: "+err.Error(), http.StatusInternalServerError)
				return
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_, _ = w.Write(b.Bytes()) // the client went away: nothing to do
	}
}

func (p *Plugin) overviewData(r *http.Request) (string, any, error) {
	ov, err := p.plugins(r.Context())
	return "Plugins", ov, err
}

func (p *Plugin) graphData(r *http.Request) (string, any, error) {
	s, err := p.svg(r.Context())
	return "Graph", s, err
}

func (p *Plugin) pluginData(r *http.Request) (string, any, error) {
	d, err := p.plugin(r.Context(), r.PathValue("name"))
	return "Plugin " + r.PathValue("name"), d, err
}

func (p *Plugin) chainsData(*http.Request) (string, any, error) {
	return "Chains", struct {
		Chains []ChainFigures
		Rates  map[chainKey]float64
	}{p.Chains(), p.rates()}, nil
}

func (p *Plugin) callsData(*http.Request) (string, any, error) {
	return "Request inspector", struct {
		Calls []*Call
		Every int
	}{p.calls.list(), p.opts.SampleEvery}, nil
}

func (p *Plugin) callData(r *http.Request) (string, any, error) {
	c, err := p.call(r.PathValue("id"))
	return "Call " + r.PathValue("id"), c, err
}

func (p *Plugin) jobsData(r *http.Request) (string, any, error) {
	v, err := p.jobsView(r.Context(), 20)
	if d := r.URL.Query().Get("done"); d == "retry" || d == "discard" {
		v.Done = d
	}
	return "Jobs and events", v, err
}

// reloadView is the reload page's data.
type reloadView struct {
	Enabled bool
	File    string
	Config  string
	Preview *Preview
	Applied *Applied
	History []Reload
}

func (p *Plugin) reloadData(*http.Request) (string, any, error) {
	v := reloadView{Enabled: p.opts.Reloader != nil, History: p.reload.all()}
	if v.Enabled {
		cv, err := p.config()
		if err != nil {
			return "Reload", v, err
		}
		v.File, v.Config = cv.File, cv.Data
	}
	return "Reload", v, nil
}

func (p *Plugin) reloadPost(r *http.Request) (string, any, error) {
	v := reloadView{Enabled: p.opts.Reloader != nil, Config: r.PostFormValue("config")}
	if p.opts.Reloader != nil {
		v.File, _, _ = p.opts.Reloader.Config()
	}
	var err error
	switch r.PostFormValue("action") {
	case "preview":
		var pv Preview
		pv, err = p.preview(r.Context(), []byte(v.Config))
		v.Preview = &pv
	case "apply":
		var a Applied
		a, err = p.apply(r.Context(), []byte(v.Config))
		v.Applied = &a
	default:
		err = badRequest("action %q: want preview or apply", r.PostFormValue("action"))
	}
	v.History = p.reload.all()
	return "Reload", v, err
}

func (p *Plugin) logsData(r *http.Request) (string, any, error) {
	plugin := r.URL.Query().Get("plugin")
	var names []string
	for _, pl := range p.host.Plugins() {
		names = append(names, pl.Info().Name)
	}
	return "Logs", struct {
		Enabled bool
		Plugin  string
		Plugins []string
		Lines   []Line
	}{p.opts.Logs != nil, plugin, names, p.logLines(plugin, 300)}, nil
}
