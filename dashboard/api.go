package dashboard

import (
	"encoding/json"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/fila-go/fila"
)

// apiSnapshot is the JSON the pages poll: the shared snapshot, with each
// queue's chart already drawn.
type apiSnapshot struct {
	At       time.Time  `json:"at"`
	Interval int64      `json:"interval_ms"`
	Queues   []apiQueue `json:"queues"`
}

type apiQueue struct {
	Name          string        `json:"name"`
	Error         string        `json:"error,omitempty"`
	Counts        *fila.Counts  `json:"counts,omitempty"`
	Paused        bool          `json:"paused"`
	RateLimitedMs int64         `json:"rate_limited_ms"`
	CompletedMin  int64         `json:"completed_last_minute"`
	FailedMin     int64         `json:"failed_last_minute"`
	Chart         template.HTML `json:"chart_svg,omitempty"`
}

func (h *Handler) snapshotJSON(w http.ResponseWriter, r *http.Request) {
	s, err := h.snap.get(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	out := apiSnapshot{At: s.At, Interval: h.opt.Interval.Milliseconds(), Queues: make([]apiQueue, 0, len(s.Queues))}
	for i, qs := range s.Queues {
		a := apiQueue{Name: qs.Name, Error: qs.Err}
		if m := qs.Metrics; m != nil {
			c := m.Counts
			a.Counts, a.Paused, a.RateLimitedMs = &c, m.Paused, m.RateLimitedFor
			a.CompletedMin, a.FailedMin = at(m.CompletedPerMinute, 1), at(m.FailedPerMinute, 1)
			a.Chart = chartSVG("chart-"+strconv.Itoa(i), qs.Name, m.CompletedPerMinute, m.FailedPerMinute)
		}
		out.Queues = append(out.Queues, a)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(out)
}
