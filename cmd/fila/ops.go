package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/fila-go/fila"
)

// result is what a mutating command did, printed as a sentence or, with
// -json, as this object.
type result struct {
	Queue  string   `json:"queue"`
	Action string   `json:"action"`
	Count  int      `json:"count"`
	IDs    []string `json:"ids,omitempty"`
	text   string
}

func (e *env) done(r result) error {
	if e.opt.json {
		return writeJSON(e.out, r)
	}
	_, err := fmt.Fprintln(e.out, r.text)
	return err
}

// jobCommand is a command that acts on one job of a queue.
func jobCommand(name, summary, past, prep string, act func(q *fila.Queue, ctx context.Context, id string) error) *command {
	return &command{
		name: name, args: "<queue> <id>", minArgs: 2, maxArgs: 2, knownQueues: 1, summary: summary,
		run: func(ctx context.Context, e *env, args []string) error {
			q, id := e.queue(args[0]), args[1]
			if err := act(q, ctx, id); err != nil {
				return err
			}
			return e.done(result{Queue: q.Name(), Action: past, Count: 1, IDs: []string{id},
				text: fmt.Sprintf("%s job %s %s %s", past, id, prep, q.Name())})
		},
	}
}

func promoteCommand() *command {
	return jobCommand("promote", "move a delayed job to waiting now", "promoted", "in", (*fila.Queue).Promote)
}

func removeCommand() *command {
	return jobCommand("remove", "delete a job that is not active, with its logs", "removed", "from", (*fila.Queue).Remove)
}

func cancelCommand() *command {
	cmd := jobCommand("cancel", "fail a job now with the reason \"cancelled\", without retry", "cancelled", "in",
		func(q *fila.Queue, ctx context.Context, id string) error {
			_, err := q.Cancel(ctx, id)
			return err
		})
	cmd.detail = "A job that is not running never runs. A running job is failed at once, and its\n" +
		"handler's context ends at its worker's next lock renewal (within LockDuration/2)."
	return cmd
}

func retryCommand() *command {
	one := jobCommand("retry", "", "retried", "in", (*fila.Queue).RetryJob)
	return &command{
		name: "retry", args: "<queue> <id> | <queue> -all-failed", minArgs: 1, maxArgs: 2, knownQueues: 1,
		summary: "move a failed job, or every failed one, back to waiting",
		detail:  "Attempts start over. A completed job can be retried by ID too.",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.BoolVar(&o.allFailed, "all-failed", false, "retry every failed job of the queue")
		},
		check: func(cmd *command, o *options, args []string) error {
			switch {
			case o.allFailed && len(args) == 2:
				return usagef(cmd, "give a job ID or -all-failed, not both")
			case !o.allFailed && len(args) == 1:
				return usagef(cmd, "give a job ID, or -all-failed")
			}
			return nil
		},
		run: func(ctx context.Context, e *env, args []string) error {
			if !e.opt.allFailed {
				return one.run(ctx, e, args)
			}
			q := e.queue(args[0])
			n, err := q.RetryFailed(ctx)
			if err != nil {
				return err
			}
			return e.done(result{Queue: q.Name(), Action: "retried", Count: n,
				text: fmt.Sprintf("retried %s in %s", plural(n, "failed job"), q.Name())})
		},
	}
}

func cleanCommand() *command {
	return &command{
		name: "clean", args: "<queue> <state> -age DURATION | -all [-limit N]", minArgs: 2, maxArgs: 2, knownQueues: 1,
		summary: "remove the jobs in a state that are older than -age (or all of them, with -all)",
		detail: "Age is from the finish time for completed and failed jobs, from the add time otherwise.\n" +
			"One of -age or -all is required, so a forgotten -age does not remove every job.\nActive jobs cannot be cleaned.",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.DurationVar(&o.age, "age", 0, "only jobs older than this `duration` (> 0)")
			fs.BoolVar(&o.all, "all", false, "remove every job in the state, whatever its age")
			fs.IntVar(&o.limit, "limit", 0, "remove at most `N` jobs (0: no limit)")
		},
		check: func(cmd *command, o *options, args []string) error {
			state, err := parseState(cmd, args[1])
			switch {
			case err != nil:
				return err
			case state == fila.StateActive:
				return usagef(cmd, "active jobs cannot be cleaned")
			case o.age < 0 || o.limit < 0:
				return usagef(cmd, "-age and -limit must be >= 0")
			case o.all && o.age > 0:
				return usagef(cmd, "give -age or -all, not both")
			case !o.all && o.age == 0:
				return usagef(cmd, "give -age DURATION to remove the %s jobs older than it, or -all to remove every one", state)
			}
			return nil
		},
		run: func(ctx context.Context, e *env, args []string) error {
			q, state := e.queue(args[0]), fila.State(args[1])
			ids, err := q.Clean(ctx, state, e.opt.age, e.opt.limit)
			if err != nil {
				return err
			}
			text := fmt.Sprintf("removed %s from %s", plural(len(ids), string(state)+" job"), q.Name())
			if e.opt.age > 0 {
				text = fmt.Sprintf("removed %s older than %s from %s", plural(len(ids), string(state)+" job"), e.opt.age, q.Name())
			}
			if ids == nil {
				ids = []string{}
			}
			return e.done(result{Queue: q.Name(), Action: "cleaned", Count: len(ids), IDs: ids, text: text})
		},
	}
}

// switchCommand pauses or resumes a queue.
func switchCommand(name, summary, past string, act func(q *fila.Queue, ctx context.Context) error) *command {
	return &command{
		name: name, args: "<queue>", minArgs: 1, maxArgs: 1, summary: summary,
		run: func(ctx context.Context, e *env, args []string) error {
			q := e.queue(args[0])
			if err := act(q, ctx); err != nil {
				return err
			}
			return e.done(result{Queue: q.Name(), Action: past, text: past + " " + q.Name()})
		},
	}
}

func pauseCommand() *command {
	return switchCommand("pause", "stop claims on a queue in every process (adds still land)", "paused", (*fila.Queue).Pause)
}

func resumeCommand() *command {
	return switchCommand("resume", "let workers claim again after pause", "resumed", (*fila.Queue).Resume)
}

func drainCommand() *command {
	return &command{
		name: "drain", args: "<queue> [-delayed]", minArgs: 1, maxArgs: 1, knownQueues: 1,
		summary: "remove the jobs that have not started (with -delayed, the delayed ones too)",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.BoolVar(&o.delayed, "delayed", false, "remove delayed jobs too")
		},
		run: func(ctx context.Context, e *env, args []string) error {
			q := e.queue(args[0])
			n, err := q.Drain(ctx, e.opt.delayed)
			if err != nil {
				return err
			}
			return e.done(result{Queue: q.Name(), Action: "drained", Count: n,
				text: fmt.Sprintf("drained %s: removed %s", q.Name(), plural(n, "job"))})
		},
	}
}

func obliterateCommand() *command {
	return &command{
		name: "obliterate", args: "<queue> [-force]", minArgs: 1, maxArgs: 1,
		summary: "remove a queue with all its jobs, events and metrics",
		detail:  "It refuses while jobs are active, unless -force: their workers then lose them.",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.BoolVar(&o.force, "force", false, "obliterate even while jobs are active (their workers will lose them)")
		},
		run: func(ctx context.Context, e *env, args []string) error {
			q := e.queue(args[0])
			if err := q.Obliterate(ctx, e.opt.force); err != nil {
				if errors.Is(err, fila.ErrQueueActive) {
					return fmt.Errorf("%w (stop its workers, or use -force)", err)
				}
				return err
			}
			return e.done(result{Queue: q.Name(), Action: "obliterated", text: "obliterated " + q.Name()})
		},
	}
}
