package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/fila-go/fila"
)

func groupsCommand() *command {
	return &command{
		name: "groups", args: "<queue> [group] [-limit N]", minArgs: 1, maxArgs: 2, knownQueues: 1,
		summary: "show a queue's busiest groups, or one group's waiting jobs",
		detail: "Without a group: the groups with jobs, a limit or a pause, the most waiting first.\n" +
			"With a group: its counts and its waiting jobs in run order.",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.IntVar(&o.limit, "limit", 20, "show at most `N` groups or jobs")
		},
		check: func(cmd *command, o *options, args []string) error {
			if o.limit < 1 {
				return usagef(cmd, "-limit must be >= 1")
			}
			return nil
		},
		run: runGroups,
	}
}

// groupView is groups' JSON output for one group.
type groupView struct {
	Queue string `json:"queue"`
	fila.GroupInfo
	Jobs []jobView `json:"jobs,omitempty"`
}

func runGroups(ctx context.Context, e *env, args []string) error {
	q := e.queue(args[0])
	if len(args) == 2 {
		return runGroup(ctx, e, q, args[1])
	}
	gs, err := q.Groups(ctx, e.opt.limit)
	if err != nil {
		return err
	}
	if e.opt.json {
		return writeJSON(e.out, struct {
			Queue  string           `json:"queue"`
			Groups []fila.GroupInfo `json:"groups"`
		}{q.Name(), gs})
	}
	if len(gs) == 0 {
		_, err := fmt.Fprintf(e.out, "no groups with jobs in %s\n", q.Name())
		return err
	}
	t := newTable(e.out, "GROUP", "WAITING", "ACTIVE", "LIMITED FOR", "PAUSED")
	for _, g := range gs {
		t.row(groupCells(g)...)
	}
	return t.flush()
}

func groupCells(g fila.GroupInfo) []string {
	limited, paused := "-", "-"
	if g.LimitedFor > 0 {
		limited = g.LimitedFor.Round(time.Millisecond).String()
	}
	if g.Paused {
		paused = "yes"
	}
	return []string{cell(g.Group, 40), strconv.FormatInt(g.Waiting, 10), strconv.FormatInt(g.Active, 10), limited, paused}
}

func runGroup(ctx context.Context, e *env, q *fila.Queue, group string) error {
	c, err := q.GroupCounts(ctx, group)
	if err != nil {
		return err
	}
	jobs, err := q.GroupJobs(ctx, group, 0, e.opt.limit)
	if err != nil {
		return err
	}
	if e.opt.json {
		v := groupView{Queue: q.Name(), GroupInfo: fila.GroupInfo{Group: group, GroupCounts: *c}, Jobs: make([]jobView, len(jobs))}
		for i, j := range jobs {
			v.Jobs[i] = newJobView(j)
		}
		return writeJSON(e.out, v)
	}
	t := newTable(e.out, "GROUP", "WAITING", "ACTIVE", "LIMITED FOR", "PAUSED")
	t.row(groupCells(fila.GroupInfo{Group: group, GroupCounts: *c})...)
	if err := t.flush(); err != nil {
		return err
	}
	if len(jobs) == 0 {
		return nil
	}
	if _, err := fmt.Fprintln(e.out); err != nil {
		return err
	}
	jt := newTable(e.out, "ID", "NAME", "ATTEMPTS", "ADDED")
	for _, j := range jobs {
		jt.row(j.ID, cell(j.Name, 40), attempts(j), formatTime(j.AddedAt))
	}
	return jt.flush()
}
