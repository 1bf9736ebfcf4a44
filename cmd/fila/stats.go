package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/fila-go/fila"
)

// statsMinutes is the throughput window stats reads.
const statsMinutes = 15

func statsCommand() *command {
	return &command{
		name: "stats", args: "[queue...]", minArgs: 0, maxArgs: -1, knownQueues: -1,
		summary: "show jobs per state, switches, and throughput of every queue (or the named ones)",
		detail: "COMPLETED/1M and FAILED/1M count the current minute; the /15M columns the last 15 minutes,\n" +
			"the current one included (every process's workers, as recorded by the backend).\n" +
			"STATUS is running, paused, or limited for the time left on an on-demand rate limit.",
		run: runStats,
	}
}

// queueStats is one row of stats. The per-minute series are newest first;
// the 1m figures are the current minute's, the 15m ones the sum of the
// last 15 minutes including the current one.
type queueStats struct {
	*fila.QueueMetrics
	Completed1m  int64 `json:"completed_1m"`
	Failed1m     int64 `json:"failed_1m"`
	Completed15m int64 `json:"completed_15m"`
	Failed15m    int64 `json:"failed_15m"`
}

func runStats(ctx context.Context, e *env, args []string) error {
	names := args
	if len(names) == 0 {
		var err error
		if names, err = e.be.QueueList(ctx); err != nil {
			return fmt.Errorf("fila: list queues: %w", err)
		}
	}
	rows := make([]queueStats, 0, len(names))
	for _, name := range names {
		m, err := e.queue(name).Metrics(ctx, statsMinutes)
		if err != nil {
			return err
		}
		rows = append(rows, queueStats{
			QueueMetrics: m,
			Completed1m:  first(m.CompletedPerMinute), Failed1m: first(m.FailedPerMinute),
			Completed15m: total(m.CompletedPerMinute), Failed15m: total(m.FailedPerMinute),
		})
	}
	if e.opt.json {
		return writeJSON(e.out, rows)
	}
	if len(rows) == 0 {
		_, err := fmt.Fprintln(e.out, "no queues yet")
		return err
	}
	t := newTable(e.out, "QUEUE", "STATUS", "WAITING", "PRIORITIZED", "PAUSED", "DELAYED", "ACTIVE", "COMPLETED", "FAILED",
		"COMPLETED/1M", "FAILED/1M", "COMPLETED/15M", "FAILED/15M")
	for _, r := range rows {
		c := r.Counts
		t.row(r.Queue, status(r.QueueMetrics), n(c.Waiting), n(c.Prioritized), n(c.Paused), n(c.Delayed), n(c.Active),
			n(c.Completed), n(c.Failed), n(r.Completed1m), n(r.Failed1m), n(r.Completed15m), n(r.Failed15m))
	}
	return t.flush()
}

// status says whether workers may claim: running, paused, or limited for
// a while (an on-demand rate limit).
func status(m *fila.QueueMetrics) string {
	switch {
	case m.Paused:
		return "paused"
	case m.RateLimitedFor > 0:
		return "limited " + (time.Duration(m.RateLimitedFor) * time.Millisecond).Round(time.Second).String()
	}
	return "running"
}

func first(xs []int64) int64 {
	if len(xs) == 0 {
		return 0
	}
	return xs[0]
}

func total(xs []int64) int64 {
	var s int64
	for _, x := range xs {
		s += x
	}
	return s
}

func n(v int64) string { return strconv.FormatInt(v, 10) }
