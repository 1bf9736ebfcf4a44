// Package dashboard is a web UI over fila queues: an http.Handler that shows
// every queue's counts, switches and last hour of throughput, pages through
// a queue's jobs by state, shows one job in full (a flow parent with its
// children), lists a queue's schedulers and groups, and offers the
// operator's fixes (retry, promote, remove, clean, drain, pause, resume,
// pause or resume a group, remove a scheduler) behind a CSRF token and a
// confirmation step. docs/dashboard.md describes every page.
//
// Mount it under a base path, behind the host's own authentication:
//
//	h, err := dashboard.New(queues, dashboard.Options{BasePath: "/admin/queues/"})
//	mux.Handle("/admin/queues/", requireLogin(h))
//
// The pages are rendered on the server with html/template; the small
// script and style sheet are embedded, so the dashboard works offline with
// no CDN. The counts and the chart refresh by polling one JSON endpoint
// whose answer is shared: however many browser tabs are open, the backend
// is read at most once per Options.Interval.
package dashboard

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fila-go/fila"
)

// ErrInvalid is wrapped by New's errors for invalid options.
var ErrInvalid = fila.ErrInvalid

// Options configures a dashboard. The zero value serves at "/" with the
// defaults written next to each field.
type Options struct {
	// BasePath is the path the handler is mounted at, with or without its
	// trailing slash ("/admin/queues/"). Empty means "/". Links and form
	// actions start with it; requests outside it get 404.
	BasePath string
	// Title heads every page. Empty means "fila".
	Title string
	// ReadOnly hides every action and refuses every POST with 403.
	ReadOnly bool
	// Interval is how old the shared snapshot of counts and throughput may
	// get before it is read again, and how often pages poll it. 0 means 2s.
	Interval time.Duration
	// Timeout bounds the backend calls of one request. 0 means 10s.
	Timeout time.Duration
	// PageSize is the number of jobs per page of a queue. 0 means 50.
	PageSize int
	// SearchLimit is how many jobs of a state a search by name looks
	// through, newest first for finished jobs. 0 means 1,000.
	SearchLimit int
	// Logger receives backend errors; nil means silent.
	Logger *slog.Logger
}

// Handler serves the dashboard. It is safe for concurrent use.
type Handler struct {
	opt    Options
	base   string // BasePath with one trailing slash
	queues []*fila.Queue
	byName map[string]*fila.Queue
	mux    *http.ServeMux
	tmpl   map[string]*template.Template
	snap   *poller
	log    *slog.Logger
}

// New returns a dashboard over queues, which must be non-empty and have
// distinct names. The queues may use any backend.
func New(queues []*fila.Queue, opt Options) (*Handler, error) {
	if len(queues) == 0 {
		return nil, fmt.Errorf("dashboard: no queues: %w", ErrInvalid)
	}
	by := make(map[string]*fila.Queue, len(queues))
	for i, q := range queues {
		if q == nil {
			return nil, fmt.Errorf("dashboard: queue %d is nil: %w", i, ErrInvalid)
		}
		if _, dup := by[q.Name()]; dup {
			return nil, fmt.Errorf("dashboard: queue %q is given twice: %w", q.Name(), ErrInvalid)
		}
		by[q.Name()] = q
	}
	switch {
	case opt.Interval < 0:
		return nil, fmt.Errorf("dashboard: Interval must be >= 0, got %s: %w", opt.Interval, ErrInvalid)
	case opt.Timeout < 0:
		return nil, fmt.Errorf("dashboard: Timeout must be >= 0, got %s: %w", opt.Timeout, ErrInvalid)
	case opt.PageSize < 0:
		return nil, fmt.Errorf("dashboard: PageSize must be >= 0, got %d: %w", opt.PageSize, ErrInvalid)
	case opt.SearchLimit < 0:
		return nil, fmt.Errorf("dashboard: SearchLimit must be >= 0, got %d: %w", opt.SearchLimit, ErrInvalid)
	}
	base := "/" + strings.Trim(opt.BasePath, "/") + "/"
	if base == "//" {
		base = "/"
	}
	if strings.ContainsAny(base, "?#\"'<> ") || (&url.URL{Path: base}).EscapedPath() != base {
		return nil, fmt.Errorf("dashboard: BasePath %q has characters a URL path must escape: %w", opt.BasePath, ErrInvalid)
	}
	if opt.Title == "" {
		opt.Title = "fila"
	}
	if opt.Interval == 0 {
		opt.Interval = 2 * time.Second
	}
	if opt.Timeout == 0 {
		opt.Timeout = 10 * time.Second
	}
	if opt.PageSize == 0 {
		opt.PageSize = 50
	}
	if opt.SearchLimit == 0 {
		opt.SearchLimit = 1000
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tmpl, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	h := &Handler{opt: opt, base: base, queues: queues, byName: by, log: log, tmpl: tmpl}
	h.snap = newPoller(queues, opt.Interval, opt.Timeout, time.Now, log)
	h.routes()
	return h, nil
}

func (h *Handler) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", h.overview)
	m.HandleFunc("GET /queues/{queue}", h.queuePage)
	m.HandleFunc("GET /queues/{queue}/jobs/{id}", h.jobPage)
	m.HandleFunc("GET /queues/{queue}/groups", h.groupsPage)
	m.HandleFunc("GET /queues/{queue}/groups/{group}", h.groupPage)
	m.HandleFunc("GET /api/snapshot", h.snapshotJSON)
	m.HandleFunc("GET /static/{file}", h.static)
	m.HandleFunc("POST /queues/{queue}/actions/{action}", h.queueAction)
	m.HandleFunc("POST /queues/{queue}/jobs/{id}/actions/{action}", h.jobAction)
	m.HandleFunc("POST /queues/{queue}/groups/{group}/actions/{action}", h.groupAction)
	m.HandleFunc("POST /queues/{queue}/schedulers/{id}/actions/{action}", h.schedulerAction)
	h.mux = m
}

// ServeHTTP serves the pages under the base path.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Route on the escaped path, so a job ID or queue name holding a "/"
	// (escaped as %2F in the links) stays one path segment.
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), h.base)
	if !ok {
		if r.URL.Path+"/" == h.base {
			http.Redirect(w, r, h.base, http.StatusMovedPermanently)
			return
		}
		http.NotFound(w, r)
		return
	}
	path, err := url.PathUnescape("/" + rest)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	u.Path, u.RawPath = path, "/"+rest
	r2.URL = &u
	h.mux.ServeHTTP(w, r2)
}

// queue returns the named queue or answers 404.
func (h *Handler) queue(w http.ResponseWriter, r *http.Request) (*fila.Queue, bool) {
	q, ok := h.byName[r.PathValue("queue")]
	if !ok {
		h.fail(w, r, http.StatusNotFound, fmt.Sprintf("no queue named %q", r.PathValue("queue")))
	}
	return q, ok
}

func (h *Handler) ctx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), h.opt.Timeout)
}

// backendFailed is what a page says when the backend failed.
const backendFailed = "the queue storage did not answer; the server's log has the error"

// backendError answers a failed backend call: 404 for a missing job, 400
// for invalid input, 409 for a job in the wrong state, else 502.
func (h *Handler) backendError(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusBadGateway
	switch {
	case errors.Is(err, fila.ErrJobNotFound):
		status = http.StatusNotFound
	case errors.Is(err, fila.ErrInvalid):
		status = http.StatusBadRequest
	case errors.As(err, new(*fila.StateError)):
		status = http.StatusConflict
	default:
		// Backend errors can name hosts and addresses: the page gets a
		// generic message, the log gets the error.
		h.log.ErrorContext(r.Context(), "dashboard: backend call failed", "path", r.URL.Path, "err", err)
		h.fail(w, r, status, backendFailed)
		return
	}
	h.fail(w, r, status, err.Error())
}
