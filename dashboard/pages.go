package dashboard

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
)

// page is what every template gets.
type page struct {
	Title    string // the dashboard's title
	Heading  string // this page's
	Base     string
	CSRF     string
	ReadOnly bool
	Interval int64 // poll interval, ms; 0 when the page does not poll
	Flash    string
	Body     any
}

func (h *Handler) newPage(w http.ResponseWriter, r *http.Request, heading string, body any) *page {
	return &page{
		Title: h.opt.Title, Heading: heading, Base: h.base, CSRF: h.csrfToken(w, r),
		ReadOnly: h.opt.ReadOnly, Flash: flash(r), Body: body,
	}
}

// overviewBody is the overview page: every queue of the snapshot.
type overviewBody struct {
	Queues []queueView
}

// queueView is one queue's counts, switches and chart.
type queueView struct {
	Name          string
	Err           string
	Counts        []stateCount
	Total         int64
	Paused        bool
	RateLimitedMs int64
	CompletedMin  int64 // in the last full minute
	FailedMin     int64
	Chart         any // template.HTML
}

type stateCount struct {
	State fila.State
	N     int64
}

func viewOf(i int, qs queueSnap) queueView {
	v := queueView{Name: qs.Name, Err: qs.Err}
	m := qs.Metrics
	if m == nil {
		return v
	}
	for _, s := range backend.States {
		n := m.Counts.Get(s)
		v.Counts = append(v.Counts, stateCount{s, n})
		v.Total += n
	}
	v.Paused, v.RateLimitedMs = m.Paused, m.RateLimitedFor
	v.CompletedMin, v.FailedMin = at(m.CompletedPerMinute, 1), at(m.FailedPerMinute, 1)
	v.Chart = chartSVG("chart-"+strconv.Itoa(i), qs.Name, m.CompletedPerMinute, m.FailedPerMinute)
	return v
}

func (h *Handler) overview(w http.ResponseWriter, r *http.Request) {
	s, err := h.snap.get(r.Context())
	if err != nil {
		h.backendError(w, r, err)
		return
	}
	var body overviewBody
	for i, qs := range s.Queues {
		body.Queues = append(body.Queues, viewOf(i, qs))
	}
	p := h.newPage(w, r, "Queues", body)
	p.Interval = h.opt.Interval.Milliseconds()
	h.render(w, r, "overview", p)
}

// queueBody is a queue page: one state's jobs, a page at a time.
type queueBody struct {
	Queue  queueView
	State  fila.State
	Jobs   []*fila.Job
	Offset int
	Count  int64 // jobs in State
	Prev   int   // offsets of the neighbour pages; -1 when none
	Next   int
	Last   int
	Query  string
	Search string // what the search did, for the reader
	// Schedulers are the queue's job schedulers (none on a backend
	// without them).
	Schedulers []*fila.Scheduler
	// HasGroups links the queue's groups page (backends with groups).
	HasGroups bool
}

func (h *Handler) queuePage(w http.ResponseWriter, r *http.Request) {
	q, ok := h.queue(w, r)
	if !ok {
		return
	}
	state := fila.State(r.URL.Query().Get("state"))
	if state == "" {
		state = fila.StateFailed
	}
	if !state.Valid() {
		h.fail(w, r, http.StatusBadRequest, "unknown state "+strconv.Quote(string(state)))
		return
	}
	offset, ok := h.offset(w, r)
	if !ok {
		return
	}
	s, err := h.snap.get(r.Context())
	if err != nil {
		h.backendError(w, r, err)
		return
	}
	var body queueBody
	for i, qs := range s.Queues {
		if qs.Name == q.Name() {
			body.Queue = viewOf(i, qs)
		}
	}
	body.State, body.Offset = state, offset
	if m, ok := s.queue(q.Name()); ok && m.Metrics != nil {
		body.Count = m.Metrics.Counts.Get(state)
	}
	ctx, cancel := h.ctx(r)
	defer cancel()
	body.Query = strings.TrimSpace(r.URL.Query().Get("q"))
	if body.Query != "" {
		if err := h.search(ctx, q, &body); err != nil {
			h.backendError(w, r, err)
			return
		}
	} else {
		jobs, err := q.Jobs(ctx, state, offset, h.opt.PageSize)
		if err != nil {
			h.backendError(w, r, err)
			return
		}
		body.Jobs = jobs
		body.Prev, body.Next, body.Last = -1, -1, -1
		if offset > 0 {
			body.Prev = max(0, offset-h.opt.PageSize)
		}
		if int64(offset+h.opt.PageSize) < body.Count {
			body.Next = offset + h.opt.PageSize
			body.Last = int((body.Count - 1) / int64(h.opt.PageSize) * int64(h.opt.PageSize))
		}
	}
	if _, ok := q.Backend().(backend.Schedulers); ok {
		if body.Schedulers, err = q.Schedulers(ctx); err != nil {
			h.backendError(w, r, err)
			return
		}
	}
	// The groups are on their own page: listing them reads every group.
	_, body.HasGroups = q.Backend().(backend.Groups)
	p := h.newPage(w, r, q.Name(), body)
	p.Interval = h.opt.Interval.Milliseconds()
	h.render(w, r, "queue", p)
}

// search finds a job by ID in any state, else the jobs of body.State whose
// name contains the query among the first SearchLimit of that state.
func (h *Handler) search(ctx context.Context, q *fila.Queue, body *queueBody) error {
	body.Prev, body.Next, body.Last = -1, -1, -1
	j, err := q.GetJob(ctx, body.Query)
	if err == nil {
		body.Jobs = []*fila.Job{j}
		body.Search = "the job with ID " + strconv.Quote(body.Query) + " (" + string(j.State) + ")"
		return nil
	}
	if !errors.Is(err, fila.ErrJobNotFound) {
		return err
	}
	jobs, err := q.Jobs(ctx, body.State, 0, h.opt.SearchLimit)
	if err != nil {
		return err
	}
	needle := strings.ToLower(body.Query)
	for _, j := range jobs {
		if strings.Contains(strings.ToLower(j.Name), needle) {
			body.Jobs = append(body.Jobs, j)
		}
	}
	body.Search = "no job has ID " + strconv.Quote(body.Query) + "; " + strconv.Itoa(len(body.Jobs)) +
		" of the first " + strconv.Itoa(len(jobs)) + " " + string(body.State) + " jobs have it in their name"
	return nil
}

// jobBody is a job page.
type jobBody struct {
	Queue      string
	Job        *fila.Job
	Data       string
	DataFormat string // "JSON", "text" or "bytes (hex)"
	Options    string
	Return     string
	Progress   string
	Logs       []string
	LogTotal   int
	Timeline   []event
	Children   *childrenView // nil unless the job is a flow parent
	Group      string        // the job's group, linked when the backend has groups
}

// event is one line of a job's timeline.
type event struct {
	What string
	At   string
}

// logLimit is how many log lines a job page shows, oldest first.
const logLimit = 500

func (h *Handler) jobPage(w http.ResponseWriter, r *http.Request) {
	q, ok := h.queue(w, r)
	if !ok {
		return
	}
	ctx, cancel := h.ctx(r)
	defer cancel()
	id := r.PathValue("id")
	j, err := q.GetJob(ctx, id)
	if err != nil {
		h.backendError(w, r, err)
		return
	}
	logs, total, err := q.Logs(ctx, id, 0, logLimit)
	if err != nil {
		h.backendError(w, r, err)
		return
	}
	body := jobBody{Queue: q.Name(), Job: j, Logs: logs, LogTotal: total}
	body.Data, body.DataFormat = showBytes(j.Data)
	body.Options = optionLines(j.Options)
	if len(j.ReturnValue) > 0 {
		body.Return, _ = showBytes(j.ReturnValue)
	}
	if len(j.Progress) > 0 {
		body.Progress, _ = showBytes(j.Progress)
	}
	body.Timeline = timeline(j)
	if _, ok := q.Backend().(backend.Groups); ok {
		body.Group = j.Options.Group
	}
	if body.Children, err = h.children(ctx, j, q.Name()); err != nil {
		h.backendError(w, r, err)
		return
	}
	h.render(w, r, "job", h.newPage(w, r, "Job "+j.ID, body))
}

// offset reads a page's ?offset= (0 when absent), answering 400 for
// anything but a whole number >= 0.
func (h *Handler) offset(w http.ResponseWriter, r *http.Request) (int, bool) {
	v := r.URL.Query().Get("offset")
	if v == "" {
		return 0, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		h.fail(w, r, http.StatusBadRequest, "offset must be a whole number >= 0")
		return 0, false
	}
	return n, true
}
