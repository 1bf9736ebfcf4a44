package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
)

// confirmBody is the confirmation step of an action.
type confirmBody struct {
	Text   string
	Action string // the form's URL: the action itself
	Button string
	Cancel string
	Fields []field // the action's own inputs, carried over
}

type field struct{ Name, Value string }

// allowPost refuses a POST in read-only mode (403) or without the CSRF
// token of its cookie (403).
func (h *Handler) allowPost(w http.ResponseWriter, r *http.Request) bool {
	if h.opt.ReadOnly {
		h.fail(w, r, http.StatusForbidden, "this dashboard is read-only")
		return false
	}
	if !csrfOK(r) {
		h.fail(w, r, http.StatusForbidden, "the form's CSRF token is missing or wrong: reload the page and try again")
		return false
	}
	return true
}

// queueAction runs a bulk action on a queue after its confirmation step.
func (h *Handler) queueAction(w http.ResponseWriter, r *http.Request) {
	if !h.allowPost(w, r) {
		return
	}
	q, ok := h.queue(w, r)
	if !ok {
		return
	}
	action := r.PathValue("action")
	name := q.Name()
	var (
		text  string
		extra []field
		run   func(ctx context.Context) (int, error)
	)
	switch action {
	case "pause":
		text = fmt.Sprintf("Pause queue %q? Workers in every process stop claiming its jobs; running jobs finish and new jobs still land.", name)
		run = func(ctx context.Context) (int, error) { return 0, q.Pause(ctx) }
	case "resume":
		text = fmt.Sprintf("Resume queue %q? Workers start claiming its jobs again.", name)
		run = func(ctx context.Context) (int, error) { return 0, q.Resume(ctx) }
	case "retry-failed":
		text = fmt.Sprintf("Retry every failed job of %q? They go back to waiting with their attempts reset.", name)
		run = q.RetryFailed
	case "promote-delayed":
		text = fmt.Sprintf("Promote every delayed job of %q? They become ready to run now.", name)
		run = func(ctx context.Context) (int, error) { return promoteDelayed(ctx, q) }
	case "drain":
		text = fmt.Sprintf("Drain %q? Every waiting, prioritized and paused job is removed; delayed, active and finished jobs stay.", name)
		run = func(ctx context.Context) (int, error) { return q.Drain(ctx, false) }
	case "clean":
		state := fila.State(r.PostFormValue("state"))
		age, err := time.ParseDuration(r.PostFormValue("age"))
		switch {
		case !state.Valid() || state == fila.StateActive:
			h.fail(w, r, http.StatusBadRequest, fmt.Sprintf("clean: state %q cannot be cleaned", state))
			return
		case err != nil || age < 0:
			h.fail(w, r, http.StatusBadRequest, fmt.Sprintf("clean: age %q is not a duration >= 0 (write 90s, 15m or 24h)", r.PostFormValue("age")))
			return
		}
		text = fmt.Sprintf("Remove every %s job of %q older than %s?", state, name, age)
		extra = []field{{"state", string(state)}, {"age", age.String()}}
		run = func(ctx context.Context) (int, error) {
			ids, err := q.Clean(ctx, state, age, 0)
			return len(ids), err
		}
	default:
		h.fail(w, r, http.StatusNotFound, fmt.Sprintf("no queue action named %q", action))
		return
	}
	back := h.base + "queues/" + url.PathEscape(name)
	if r.PostFormValue("confirm") != "yes" {
		body := confirmBody{Text: text, Action: back + "/actions/" + action, Button: "Yes, " + action, Cancel: back, Fields: extra}
		h.render(w, r, "confirm", h.newPage(w, r, "Confirm: "+action, body))
		return
	}
	ctx, cancel := h.ctx(r)
	defer cancel()
	n, err := run(ctx)
	h.snap.invalidate()
	if err != nil {
		h.backendError(w, r, err)
		return
	}
	http.Redirect(w, r, back+"?done="+action+"&n="+strconv.Itoa(n), http.StatusSeeOther)
}

// promoteDelayed promotes the jobs that are delayed when it starts, a page
// at a time, and returns how many it promoted. A job that left the delayed
// state meanwhile is skipped.
func promoteDelayed(ctx context.Context, q *fila.Queue) (int, error) {
	c, err := q.Counts(ctx)
	if err != nil {
		return 0, err
	}
	done := 0
	for int64(done) < c.Delayed {
		jobs, err := q.Jobs(ctx, fila.StateDelayed, 0, int(min(500, c.Delayed-int64(done))))
		if err != nil || len(jobs) == 0 {
			return done, err
		}
		for _, j := range jobs {
			err := q.Promote(ctx, j.ID)
			switch {
			case err == nil:
				done++
			case errors.Is(err, fila.ErrJobNotFound) || errors.As(err, new(*fila.StateError)):
			default:
				return done, err
			}
		}
	}
	return done, nil
}

// jobAction retries, promotes or (after a confirmation) removes one job.
func (h *Handler) jobAction(w http.ResponseWriter, r *http.Request) {
	if !h.allowPost(w, r) {
		return
	}
	q, ok := h.queue(w, r)
	if !ok {
		return
	}
	id, action := r.PathValue("id"), r.PathValue("action")
	var run func(context.Context, string) error
	switch action {
	case "retry":
		run = q.RetryJob
	case "promote":
		run = q.Promote
	case "remove":
		run = q.Remove
	default:
		h.fail(w, r, http.StatusNotFound, fmt.Sprintf("no job action named %q", action))
		return
	}
	queuePath := h.base + "queues/" + url.PathEscape(q.Name())
	jobPath := queuePath + "/jobs/" + url.PathEscape(id)
	if action == "remove" && r.PostFormValue("confirm") != "yes" {
		body := confirmBody{
			Text:   fmt.Sprintf("Remove job %q of %q with its logs? This cannot be undone.", id, q.Name()),
			Action: jobPath + "/actions/remove", Button: "Yes, remove", Cancel: jobPath,
		}
		h.render(w, r, "confirm", h.newPage(w, r, "Confirm: remove", body))
		return
	}
	ctx, cancel := h.ctx(r)
	defer cancel()
	err := run(ctx, id)
	h.snap.invalidate()
	if err != nil {
		h.backendError(w, r, err)
		return
	}
	if action == "remove" {
		http.Redirect(w, r, queuePath+"?done=remove", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, jobPath+"?done="+action, http.StatusSeeOther)
}

// schedulerAction removes a scheduler (and its pending job) after its
// confirmation step.
func (h *Handler) schedulerAction(w http.ResponseWriter, r *http.Request) {
	if !h.allowPost(w, r) {
		return
	}
	q, ok := h.queue(w, r)
	if !ok {
		return
	}
	if _, ok := q.Backend().(backend.Schedulers); !ok {
		h.fail(w, r, http.StatusNotFound, fmt.Sprintf("the storage of queue %q has no schedulers", q.Name()))
		return
	}
	id, action := r.PathValue("id"), r.PathValue("action")
	if action != "remove" {
		h.fail(w, r, http.StatusNotFound, fmt.Sprintf("no scheduler action named %q", action))
		return
	}
	queuePath := h.base + "queues/" + url.PathEscape(q.Name())
	if r.PostFormValue("confirm") != "yes" {
		body := confirmBody{
			Text:   fmt.Sprintf("Remove scheduler %q of %q? It adds no more jobs, and its pending job is removed; a job of it that runs now finishes.", id, q.Name()),
			Action: queuePath + "/schedulers/" + url.PathEscape(id) + "/actions/remove", Button: "Yes, remove the scheduler", Cancel: queuePath,
		}
		h.render(w, r, "confirm", h.newPage(w, r, "Confirm: remove scheduler", body))
		return
	}
	ctx, cancel := h.ctx(r)
	defer cancel()
	found, err := q.RemoveScheduler(ctx, id)
	h.snap.invalidate()
	if err != nil {
		h.backendError(w, r, err)
		return
	}
	if !found {
		h.fail(w, r, http.StatusNotFound, fmt.Sprintf("queue %q has no scheduler %q: it was removed already", q.Name(), id))
		return
	}
	http.Redirect(w, r, queuePath+"?done=remove-scheduler", http.StatusSeeOther)
}
