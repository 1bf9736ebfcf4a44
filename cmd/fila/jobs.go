package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/fila-go/fila"
)

func listCommand() *command {
	return &command{
		name: "list", args: "<queue> <state> [-offset N] [-limit N]", minArgs: 2, maxArgs: 2, knownQueues: 1,
		summary: "list a page of the jobs in one state",
		detail:  "Waiting, prioritized, paused and delayed jobs come in run order; completed and failed\njobs newest first. States: waiting, prioritized, paused, delayed, waiting-children (flow parents),\nactive, completed, failed.",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.IntVar(&o.offset, "offset", 0, "skip the first `N` jobs")
			fs.IntVar(&o.limit, "limit", 20, "show at most `N` jobs")
		},
		check: func(cmd *command, o *options, args []string) error {
			if o.offset < 0 || o.limit < 1 {
				return usagef(cmd, "-offset must be >= 0 and -limit >= 1")
			}
			_, err := parseState(cmd, args[1])
			return err
		},
		run: runList,
	}
}

// jobPage is list's JSON output.
type jobPage struct {
	Queue  string     `json:"queue"`
	State  fila.State `json:"state"`
	Offset int        `json:"offset"`
	Total  int64      `json:"total"` // jobs in the state
	Jobs   []jobView  `json:"jobs"`
}

func runList(ctx context.Context, e *env, args []string) error {
	q := e.queue(args[0])
	state := fila.State(args[1])
	jobs, err := q.Jobs(ctx, state, e.opt.offset, e.opt.limit)
	if err != nil {
		return err
	}
	c, err := q.Counts(ctx)
	if err != nil {
		return err
	}
	if e.opt.json {
		p := jobPage{Queue: q.Name(), State: state, Offset: e.opt.offset, Total: c.Get(state), Jobs: make([]jobView, len(jobs))}
		for i, j := range jobs {
			p.Jobs[i] = newJobView(j)
		}
		return writeJSON(e.out, p)
	}
	all := c.Get(state)
	if len(jobs) == 0 {
		msg := fmt.Sprintf("no %s jobs in %s", state, q.Name())
		if all > 0 {
			msg += fmt.Sprintf(" at offset %d (%d in all)", e.opt.offset, all)
		}
		_, err := fmt.Fprintln(e.out, msg)
		return err
	}
	header, cells := listColumns(state)
	t := newTable(e.out, append([]string{"ID", "NAME", "ATTEMPTS", "ADDED"}, header...)...)
	for _, j := range jobs {
		t.row(append([]string{j.ID, cell(j.Name, 40), attempts(j), formatTime(j.AddedAt)}, cells(j)...)...)
	}
	if err := t.flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.out, "showing %d-%d of %d %s jobs\n", e.opt.offset+1, e.opt.offset+len(jobs), all, state)
	return err
}

// listColumns are the columns that matter for jobs in a state.
func listColumns(s fila.State) ([]string, func(*fila.Job) []string) {
	switch s {
	case fila.StatePrioritized:
		return []string{"PRIORITY"}, func(j *fila.Job) []string { return []string{fmt.Sprint(j.Options.Priority)} }
	case fila.StateDelayed:
		return []string{"DUE", "LAST ERROR"}, func(j *fila.Job) []string {
			return []string{formatTime(j.DueAt), cell(j.FailedReason, 60)}
		}
	case fila.StateActive:
		return []string{"STARTED"}, func(j *fila.Job) []string { return []string{formatTime(j.ProcessedAt)} }
	case fila.StateCompleted:
		return []string{"FINISHED", "RESULT"}, func(j *fila.Job) []string {
			return []string{formatTime(j.FinishedAt), cell(string(j.ReturnValue), 60)}
		}
	case fila.StateFailed:
		return []string{"FINISHED", "REASON"}, func(j *fila.Job) []string {
			return []string{formatTime(j.FinishedAt), cell(j.FailedReason, 60)}
		}
	}
	return nil, func(*fila.Job) []string { return nil }
}

func showCommand() *command {
	return &command{
		name: "show", args: "<queue> <id>", minArgs: 2, maxArgs: 2, knownQueues: 1,
		summary: "show one job with its options, progress, result or failure, and logs",
		run:     runShow,
	}
}

func runShow(ctx context.Context, e *env, args []string) error {
	q := e.queue(args[0])
	j, err := q.GetJob(ctx, args[1])
	if err != nil {
		return err
	}
	logs, total, err := q.Logs(ctx, j.ID, 0, 0)
	if err != nil {
		return err
	}
	v := newJobView(j)
	if e.opt.json {
		v.Logs, v.LogsTotal = logs, &total
		if v.Logs == nil {
			v.Logs = []string{}
		}
		return writeJSON(e.out, v)
	}
	t := newTable(e.out, "ID:", j.ID)
	field := func(name, value string) {
		if value != "" {
			t.row(name+":", value)
		}
	}
	field("Name", j.Name)
	field("Queue", j.Queue())
	field("State", string(j.State))
	field("Added", formatTime(j.AddedAt))
	if !j.DueAt.IsZero() {
		field("Due", formatTime(j.DueAt))
	}
	field("Processed", formatTime(j.ProcessedAt))
	field("Finished", formatTime(j.FinishedAt))
	field("Attempts", fmt.Sprintf("%s (%d started, %d stalled)", attempts(j), j.AttemptsStarted, j.StalledCount))
	o := v.Options
	field("Priority", nonZero(o.Priority))
	if o.LIFO {
		field("LIFO", "yes")
	}
	field("Delay", o.Delay)
	field("Backoff", backoff(j.Options.Backoff))
	field("Timeout", o.Timeout)
	field("Keep logs", nonZero(o.KeepLogs))
	field("On complete", o.RemoveOnComplete)
	field("On fail", o.RemoveOnFail)
	label := "Meta:" // one row per entry, sorted by key, values quoted
	for _, k := range slices.Sorted(maps.Keys(o.Meta)) {
		t.row(label, k+"="+strconv.Quote(o.Meta[k]))
		label = ""
	}
	field("Data", string(v.Data))
	field("Progress", string(v.Progress))
	field("Result", string(v.ReturnValue))
	field("Failed reason", j.FailedReason)
	if err := t.flush(); err != nil {
		return err
	}
	var b strings.Builder
	for i, s := range j.Stacktrace {
		fmt.Fprintf(&b, "\nStacktrace %d of %d:\n%s\n", i+1, len(j.Stacktrace), indent(s))
	}
	fmt.Fprintf(&b, "\nLogs (%d):\n", total)
	for _, l := range logs {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	_, err = fmt.Fprint(e.out, b.String())
	return err
}

func nonZero(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprint(n)
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return "  " + strings.Join(lines, "\n  ")
}
