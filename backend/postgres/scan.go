package postgres

import (
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fila-go/fila/backend"
)

// jobCols are the columns scanJob reads, in order; prefix them with a table
// alias with jobColsOf.
const jobCols = `id, name, data, options, state, added_at, due_at, processed_at, finished_at,
	attempts_started, attempts_made, stalled_count, return_value, failed_reason, stacktrace, progress`

const jobColsJ = `j.id, j.name, j.data, j.options, j.state, j.added_at, j.due_at, j.processed_at, j.finished_at,
	j.attempts_started, j.attempts_made, j.stalled_count, j.return_value, j.failed_reason, j.stacktrace, j.progress`

// scanJob reads one row of jobCols.
func scanJob(row pgx.Row) (*backend.Job, error) {
	var (
		j                        backend.Job
		opts                     []byte
		state                    string
		due, processed, finished *time.Time
		data, rv, progress       []byte
		stack                    []string
	)
	if err := row.Scan(&j.ID, &j.Name, &data, &opts, &state, &j.AddedAt, &due, &processed, &finished,
		&j.AttemptsStarted, &j.AttemptsMade, &j.StalledCount, &rv, &j.FailedReason, &stack, &progress); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(opts, &j.Options); err != nil {
		return nil, &backend.CorruptJobError{JobID: j.ID, Reason: "options: " + err.Error()}
	}
	j.State = visibleState(state)
	j.Data, j.ReturnValue, j.Progress, j.Stacktrace = data, rv, progress, stack
	if due != nil {
		j.DueAt = *due
	}
	if processed != nil {
		j.ProcessedAt = *processed
	}
	if finished != nil {
		j.FinishedAt = *finished
	}
	return &j, nil
}

// visibleState is the state the contract names for a stored state: a
// grouped job waiting in its group (not its group's place in the line) is
// stored as gwaiting, or gpaused while the queue is paused.
func visibleState(s string) backend.State {
	switch s {
	case "gwaiting":
		return backend.StateWaiting
	case "gpaused":
		return backend.StatePaused
	}
	return backend.State(s)
}

// storedStates are the stored states behind a visible one.
func storedStates(s backend.State) []string {
	switch s {
	case backend.StateWaiting:
		return []string{"waiting", "gwaiting"}
	case backend.StatePaused:
		return []string{"paused", "gpaused"}
	}
	return []string{string(s)}
}

// scanJobs reads every row of jobCols.
func scanJobs(rows pgx.Rows) ([]*backend.Job, error) {
	defer rows.Close()
	var out []*backend.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}
