package dashboard

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pageNames are the templates under templates/, each rendered inside
// layout.html, with the shared pieces of parts.html.
var pageNames = []string{"overview", "queue", "job", "groups", "group", "confirm", "error"}

var funcs = template.FuncMap{
	"seg": url.PathEscape,
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"short": func(s string, n int) string {
		r := []rune(s)
		if len(r) <= n {
			return s
		}
		return string(r[:n]) + "…"
	},
	"add": func(a, b int) int { return a + b },
	// args passes a page and an action's name and label to a sub-template.
	"args": func(p *page, action, label string) map[string]any {
		return map[string]any{"P": p, "Action": action, "Label": label}
	},
	// gargs passes a page and a group's queue, name, switch and the page
	// the form is on ("groups" or "group") to the group action form.
	"gargs": func(p *page, queue, group string, paused bool, from string) map[string]any {
		return map[string]any{"P": p, "Queue": queue, "Group": group, "Paused": paused, "From": from}
	},
	"seconds": func(ms int64) string { return fmt.Sprintf("%.1fs", float64(ms)/1000) },
	// held writes the time left on a group's limit, to the tenth of a second.
	"held": func(d time.Duration) string { return d.Round(100 * time.Millisecond).String() },
}

// parseTemplates builds one template set per page.
func parseTemplates() (map[string]*template.Template, error) {
	out := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("dashboard: template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// render writes a page; a template error is a bug, logged and answered 500.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, name string, p *page) {
	h.renderStatus(w, r, http.StatusOK, name, p)
}

func (h *Handler) renderStatus(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	var buf bytes.Buffer
	if err := h.tmpl[name].Execute(&buf, p); err != nil {
		h.log.ErrorContext(r.Context(), "dashboard: render", "page", name, "err", err)
		http.Error(w, "dashboard: cannot render the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail answers with the error page.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p := h.newPage(w, r, http.StatusText(status), msg)
	h.renderStatus(w, r, status, "error", p)
}

// static serves the embedded script and style sheet.
func (h *Handler) static(w http.ResponseWriter, r *http.Request) {
	sub, _ := fs.Sub(staticFS, "static")
	name := r.PathValue("file")
	b, err := fs.ReadFile(sub, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	switch {
	case len(name) > 3 && name[len(name)-3:] == ".js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case len(name) > 4 && name[len(name)-4:] == ".css":
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(b)
}
