package dashboard

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/fila-go/fila"
)

// childLimit is how many finished children a job page lists.
const childLimit = 500

// childrenView is the Children section of a flow parent's page.
type childrenView struct {
	Pending, Total int
	Finished       int // completed and failed children recorded
	Rows           []childRow
}

// childRow is one finished child.
type childRow struct {
	Key    string // as the parent names it: "<id>" or "<queue>:<id>"
	Queue  string // the queue of its job page; "" when the dashboard does not serve it
	ID     string
	Value  string // completed: its return value, compact
	Reason string // failed (IgnoreFailure): why
	Failed bool
}

// children reads a job's children. A job that is no flow parent, or one on
// a backend without flows, has none: nil.
func (h *Handler) children(ctx context.Context, j *fila.Job, queue string) (*childrenView, error) {
	c, err := j.Children(ctx)
	if errors.Is(err, fila.ErrUnsupported) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if c.Total == 0 {
		return nil, nil
	}
	v := &childrenView{Pending: c.Pending, Total: c.Total, Finished: len(c.Values) + len(c.Failed)}
	for key, val := range c.Values {
		r := h.childRow(key, queue)
		r.Value = compactJSON(val)
		v.Rows = append(v.Rows, r)
	}
	for key, reason := range c.Failed {
		r := h.childRow(key, queue)
		r.Reason, r.Failed = reason, true
		v.Rows = append(v.Rows, r)
	}
	slices.SortFunc(v.Rows, func(a, b childRow) int { return compareKeys(a.Key, b.Key) })
	if len(v.Rows) > childLimit {
		v.Rows = v.Rows[:childLimit]
	}
	return v, nil
}

// childRow resolves a child key to the job page it names. A key
// "<queue>:<id>" whose queue is another queue of this dashboard names a job
// there (queue names hold no ':'). Any other key is taken as an ID in the
// parent's queue: IDs may hold ':', so a child in a queue the dashboard
// does not serve cannot be told from one, and its link answers 404.
func (h *Handler) childRow(key, parent string) childRow {
	r := childRow{Key: key, Queue: parent, ID: key}
	if q, id, ok := strings.Cut(key, ":"); ok && q != parent {
		if _, served := h.byName[q]; served {
			r.Queue, r.ID = q, id
		}
	}
	return r
}

// compactJSON returns a JSON value on one line; other bytes as text.
func compactJSON(b []byte) string {
	var out bytes.Buffer
	if json.Compact(&out, b) == nil {
		return out.String()
	}
	s, _ := showBytes(b)
	return s
}

// compareKeys orders child keys with numeric IDs by number: 2 before 10.
func compareKeys(a, b string) int {
	na, ea := strconv.ParseUint(a, 10, 64)
	nb, eb := strconv.ParseUint(b, 10, 64)
	switch {
	case ea == nil && eb == nil:
		return cmp.Compare(na, nb)
	case ea == nil:
		return -1
	case eb == nil:
		return 1
	}
	return strings.Compare(a, b)
}
