package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/fila-go/fila"
)

// jobView is a job as list and show print it in JSON: payloads stay JSON
// when they are, durations are Go duration strings, unset times are left
// out.
type jobView struct {
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	Queue           string          `json:"queue"`
	State           fila.State      `json:"state"`
	Data            json.RawMessage `json:"data,omitempty"`
	Options         optionsView     `json:"options"`
	AddedAt         *time.Time      `json:"added_at,omitempty"`
	DueAt           *time.Time      `json:"due_at,omitempty"`
	ProcessedAt     *time.Time      `json:"processed_at,omitempty"`
	FinishedAt      *time.Time      `json:"finished_at,omitempty"`
	AttemptsMade    int             `json:"attempts_made"`
	AttemptsStarted int             `json:"attempts_started"`
	StalledCount    int             `json:"stalled_count"`
	ReturnValue     json.RawMessage `json:"return_value,omitempty"`
	FailedReason    string          `json:"failed_reason,omitempty"`
	Stacktrace      []string        `json:"stacktrace,omitempty"`
	Progress        json.RawMessage `json:"progress,omitempty"`
	Logs            []string        `json:"logs,omitempty"`
	LogsTotal       *int            `json:"logs_total,omitempty"`
}

// optionsView is a job's stored options.
type optionsView struct {
	Priority         int               `json:"priority,omitempty"`
	LIFO             bool              `json:"lifo,omitempty"`
	Delay            string            `json:"delay,omitempty"`
	Attempts         int               `json:"attempts"`
	Backoff          string            `json:"backoff,omitempty"`
	Timeout          string            `json:"timeout,omitempty"`
	KeepLogs         int               `json:"keep_logs,omitempty"`
	RemoveOnComplete string            `json:"remove_on_complete"`
	RemoveOnFail     string            `json:"remove_on_fail"`
	BackoffJitter    float64           `json:"backoff_jitter,omitempty"`
	Meta             map[string]string `json:"meta,omitempty"`
}

func newJobView(j *fila.Job) jobView {
	o := j.Options
	return jobView{
		ID: j.ID, Name: j.Name, Queue: j.Queue(), State: j.State, Data: rawJSON(j.Data),
		Options: optionsView{
			Priority: o.Priority, LIFO: o.LIFO, Delay: duration(o.Delay), Attempts: max(o.Attempts, 1),
			Backoff: backoff(o.Backoff), BackoffJitter: o.Backoff.Jitter, Timeout: duration(o.Timeout), KeepLogs: o.KeepLogs,
			RemoveOnComplete: retention(o.RemoveOnComplete), RemoveOnFail: retention(o.RemoveOnFail),
			Meta: o.Meta,
		},
		AddedAt: timePtr(j.AddedAt), DueAt: timePtr(j.DueAt), ProcessedAt: timePtr(j.ProcessedAt), FinishedAt: timePtr(j.FinishedAt),
		AttemptsMade: j.AttemptsMade, AttemptsStarted: j.AttemptsStarted, StalledCount: j.StalledCount,
		ReturnValue: rawJSON(j.ReturnValue), FailedReason: j.FailedReason, Stacktrace: j.Stacktrace, Progress: rawJSON(j.Progress),
	}
}

// rawJSON keeps valid JSON as is and quotes anything else as a string.
func rawJSON(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	if json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(string(b))
	return s
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func duration(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// backoff describes a retry delay rule: "exponential 1s", "fixed 30s".
func backoff(b fila.Backoff) string {
	if b.Type == "" && b.Delay == 0 {
		return ""
	}
	s := strings.TrimSpace(fmt.Sprintf("%s %s", b.Type, b.Delay))
	if b.Jitter > 0 {
		s += fmt.Sprintf(" jitter %g", b.Jitter)
	}
	return s
}

// retention describes which finished jobs are kept.
func retention(r fila.Retention) string {
	switch {
	case r.Remove:
		return "remove"
	case r.KeepLast > 0 && r.KeepFor > 0:
		return fmt.Sprintf("keep last %d for %s", r.KeepLast, r.KeepFor)
	case r.KeepLast > 0:
		return fmt.Sprintf("keep last %d", r.KeepLast)
	case r.KeepFor > 0:
		return fmt.Sprintf("keep for %s", r.KeepFor)
	}
	return "keep"
}

// attempts formats attempts made against attempts allowed: "1/3".
func attempts(j *fila.Job) string {
	return fmt.Sprintf("%d/%d", j.AttemptsMade, max(j.Options.Attempts, 1))
}
