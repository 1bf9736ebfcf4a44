package dashboard

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
)

// groupLimit is how many groups the groups page lists: the ones with
// the most waiting jobs.
const groupLimit = 100

// groupsOf reports whether q's backend has groups, answering 404 when not.
func (h *Handler) groupsOf(w http.ResponseWriter, r *http.Request, q *fila.Queue) bool {
	if _, ok := q.Backend().(backend.Groups); !ok {
		h.fail(w, r, http.StatusNotFound, fmt.Sprintf("the storage of queue %q has no groups", q.Name()))
		return false
	}
	return true
}

// groupsBody is a queue's groups page.
type groupsBody struct {
	Queue      string
	Groups     []fila.GroupInfo
	GroupLimit int
}

// groupsPage lists the queue's busiest groups. It is a page of its own,
// not a section of the queue page, because the backend reads every group
// of the queue to pick them (a Redis script of O(groups)).
func (h *Handler) groupsPage(w http.ResponseWriter, r *http.Request) {
	q, ok := h.queue(w, r)
	if !ok || !h.groupsOf(w, r, q) {
		return
	}
	ctx, cancel := h.ctx(r)
	defer cancel()
	groups, err := q.Groups(ctx, groupLimit)
	if err != nil {
		h.backendError(w, r, err)
		return
	}
	body := groupsBody{Queue: q.Name(), Groups: groups, GroupLimit: groupLimit}
	h.render(w, r, "groups", h.newPage(w, r, "Groups of "+q.Name(), body))
}

// groupBody is a group's page: its counts and a page of its waiting jobs
// in the order they will run.
type groupBody struct {
	Queue  string
	Group  string
	Counts *fila.GroupCounts
	Jobs   []*fila.Job
	Offset int
	Prev   int // offsets of the neighbour pages; -1 when none
	Next   int
}

func (h *Handler) groupPage(w http.ResponseWriter, r *http.Request) {
	q, ok := h.queue(w, r)
	if !ok || !h.groupsOf(w, r, q) {
		return
	}
	offset, ok := h.offset(w, r)
	if !ok {
		return
	}
	ctx, cancel := h.ctx(r)
	defer cancel()
	body := groupBody{Queue: q.Name(), Group: r.PathValue("group"), Offset: offset, Prev: -1, Next: -1}
	var err error
	if body.Counts, err = q.GroupCounts(ctx, body.Group); err != nil {
		h.backendError(w, r, err)
		return
	}
	if body.Jobs, err = q.GroupJobs(ctx, body.Group, offset, h.opt.PageSize); err != nil {
		h.backendError(w, r, err)
		return
	}
	if offset > 0 {
		body.Prev = max(0, offset-h.opt.PageSize)
	}
	if int64(offset+h.opt.PageSize) < body.Counts.Waiting {
		body.Next = offset + h.opt.PageSize
	}
	h.render(w, r, "group", h.newPage(w, r, "Group "+body.Group, body))
}

// groupAction pauses or resumes one group after its confirmation step,
// then goes back to the page the form was on: the group's ("from=group")
// or the list of groups.
func (h *Handler) groupAction(w http.ResponseWriter, r *http.Request) {
	if !h.allowPost(w, r) {
		return
	}
	q, ok := h.queue(w, r)
	if !ok || !h.groupsOf(w, r, q) {
		return
	}
	group, action := r.PathValue("group"), r.PathValue("action")
	var text string
	var run func() error
	ctx, cancel := h.ctx(r)
	defer cancel()
	switch action {
	case "pause":
		text = fmt.Sprintf("Pause group %q of %q? Its jobs wait (new ones still land); other groups keep running, and its running jobs finish.", group, q.Name())
		run = func() error { return q.PauseGroup(ctx, group) }
	case "resume":
		text = fmt.Sprintf("Resume group %q of %q? Workers start claiming its jobs again.", group, q.Name())
		run = func() error { return q.ResumeGroup(ctx, group) }
	default:
		h.fail(w, r, http.StatusNotFound, fmt.Sprintf("no group action named %q", action))
		return
	}
	queuePath := h.base + "queues/" + url.PathEscape(q.Name())
	groupPath := queuePath + "/groups/" + url.PathEscape(group)
	back, from := queuePath+"/groups", "groups"
	if r.PostFormValue("from") == "group" {
		back, from = groupPath, "group"
	}
	if r.PostFormValue("confirm") != "yes" {
		body := confirmBody{Text: text, Action: groupPath + "/actions/" + action, Button: "Yes, " + action + " the group",
			Cancel: back, Fields: []field{{"from", from}}}
		h.render(w, r, "confirm", h.newPage(w, r, "Confirm: "+action+" group", body))
		return
	}
	err := run()
	if err != nil {
		h.backendError(w, r, err)
		return
	}
	http.Redirect(w, r, back+"?done="+action+"-group", http.StatusSeeOther)
}
