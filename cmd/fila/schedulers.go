package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/fila-go/fila"
)

// schedulerRow is one scheduler as `fila schedulers -json` prints it.
type schedulerRow struct {
	ID           string     `json:"id"`
	Every        string     `json:"every,omitempty"`
	Pattern      string     `json:"pattern,omitempty"`
	TZ           string     `json:"tz,omitempty"`
	Next         time.Time  `json:"next"`
	NextJobID    string     `json:"next_job_id"`
	NextJobState fila.State `json:"next_job_state"`
	Iterations   int        `json:"iterations"`
	Limit        int        `json:"limit,omitempty"`
	LastJobID    string     `json:"last_job_id,omitempty"`
	LagMS        int64      `json:"lag_ms"`
}

func schedulersCommand() *command {
	return &command{
		name: "schedulers", args: "<queue>", minArgs: 1, maxArgs: 1, knownQueues: 1,
		summary: "list a queue's job schedulers: spec, next run, iterations, last job",
		detail: "LAG is how long the pending job is overdue (the backend's clock minus its tick): " +
			"one that keeps growing means no worker takes the queue's jobs.",
		run: func(ctx context.Context, e *env, args []string) error {
			list, err := e.queue(args[0]).Schedulers(ctx)
			if err != nil {
				return err
			}
			rows := make([]schedulerRow, len(list))
			for i, s := range list {
				rows[i] = schedulerRow{ID: s.ID, Pattern: s.Schedule.Pattern, TZ: s.Schedule.TZ, Next: s.Next.UTC(),
					NextJobID: s.NextJobID, NextJobState: s.NextJobState, Iterations: s.Iterations,
					Limit: s.Schedule.Limit, LastJobID: s.LastJobID, LagMS: s.Lag.Milliseconds()}
				if s.Schedule.Every > 0 {
					rows[i].Every = s.Schedule.Every.String()
				}
			}
			if e.opt.json {
				return writeJSON(e.out, rows)
			}
			if len(rows) == 0 {
				_, err := fmt.Fprintf(e.out, "no schedulers in %s\n", args[0])
				return err
			}
			t := newTable(e.out, "ID", "SPEC", "TZ", "NEXT RUN", "ITERATIONS", "NEXT JOB", "STATE", "LAST JOB", "LAG")
			for _, r := range rows {
				spec := "every " + r.Every
				if r.Pattern != "" {
					spec = r.Pattern
				}
				iter := strconv.Itoa(r.Iterations)
				if r.Limit > 0 {
					iter += "/" + strconv.Itoa(r.Limit)
				}
				state := string(r.NextJobState)
				if state == "" {
					state = "gone"
				}
				tz := r.TZ
				if tz == "" && r.Pattern != "" {
					tz = "UTC"
				}
				t.row(cell(r.ID, 40), cell(spec, 30), cell(tz, 30), formatTime(r.Next), iter, cell(r.NextJobID, 60), state,
					cell(r.LastJobID, 60), (time.Duration(r.LagMS) * time.Millisecond).String())
			}
			return t.flush()
		},
	}
}

func schedulerCommand() *command {
	return &command{
		name: "scheduler", args: "remove <queue> <id>", minArgs: 3, maxArgs: 3,
		summary: "remove a job scheduler and its pending job (a running job finishes)",
		check: func(cmd *command, o *options, args []string) error {
			if args[0] != "remove" {
				return usagef(cmd, "unknown scheduler action %q; the action is remove", args[0])
			}
			return nil
		},
		run: func(ctx context.Context, e *env, args []string) error {
			if err := requireKnownQueues(ctx, e.be, e.opt.prefix, args[1:2]); err != nil {
				return err
			}
			q, id := e.queue(args[1]), args[2]
			ok, err := q.RemoveScheduler(ctx, id)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("fila: remove scheduler from %q: %w: %q", q.Name(), fila.ErrSchedulerNotFound, id)
			}
			return e.done(result{Queue: q.Name(), Action: "removed scheduler", Count: 1, IDs: []string{id},
				text: fmt.Sprintf("removed scheduler %s from %s", id, q.Name())})
		},
	}
}
