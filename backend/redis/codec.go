package redisbackend

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fila-go/fila/backend"
)

// The stored record of a job is "<added_ms>:<priority>:<lifo>:<body>", and
// the body, built here, is "<name len>:<opts len>:<name><opts><data>": binary
// safe, with the fields Lua needs (priority, lifo, add time) in a header it
// can read without decoding the rest.

// wireOpts is the compact JSON form of the options Lua never reads (except
// rf, on the rare stalled-failure path). Zero fields are omitted; options
// that are all zero encode as nothing.
type wireOpts struct {
	Attempts int       `json:"a,omitempty"`
	Delay    int64     `json:"d,omitempty"` // ns
	BType    string    `json:"bt,omitempty"`
	BDelay   int64     `json:"bd,omitempty"` // ns
	BJitter  float64   `json:"bj,omitempty"`
	Timeout  int64     `json:"t,omitempty"` // ns
	KeepLogs int       `json:"kl,omitempty"`
	RC       *wireKeep `json:"rc,omitempty"`
	RF       *wireKeep `json:"rf,omitempty"`
}

type wireKeep struct {
	Remove   bool  `json:"r,omitempty"`
	KeepLast int   `json:"l,omitempty"`
	KeepFor  int64 `json:"f,omitempty"` // ns
}

func keepOf(r backend.Retention) *wireKeep {
	if r == (backend.Retention{}) {
		return nil
	}
	return &wireKeep{Remove: r.Remove, KeepLast: r.KeepLast, KeepFor: int64(r.KeepFor)}
}

func (k *wireKeep) retention() backend.Retention {
	if k == nil {
		return backend.Retention{}
	}
	return backend.Retention{Remove: k.Remove, KeepLast: k.KeepLast, KeepFor: time.Duration(k.KeepFor)}
}

func encodeOpts(o *backend.JobOptions) ([]byte, error) {
	w := wireOpts{
		Attempts: o.Attempts, Delay: int64(o.Delay),
		BType: string(o.Backoff.Type), BDelay: int64(o.Backoff.Delay), BJitter: o.Backoff.Jitter,
		Timeout: int64(o.Timeout), KeepLogs: o.KeepLogs,
		RC: keepOf(o.RemoveOnComplete), RF: keepOf(o.RemoveOnFail),
	}
	if w == (wireOpts{}) {
		return nil, nil
	}
	return json.Marshal(&w)
}

// encodeBody builds a record body.
func encodeBody(name string, data []byte, o *backend.JobOptions) (string, error) {
	opts, err := encodeOpts(o)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	sb.Grow(24 + len(name) + len(opts) + len(data))
	sb.WriteString(strconv.Itoa(len(name)))
	sb.WriteByte(':')
	sb.WriteString(strconv.Itoa(len(opts)))
	sb.WriteByte(':')
	sb.WriteString(name)
	sb.Write(opts)
	sb.Write(data)
	return sb.String(), nil
}

// nextField splits "<digits>:<rest>".
func nextField(s string) (int64, string, bool) {
	i := strings.IndexByte(s, ':')
	if i <= 0 {
		return 0, "", false
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || n < 0 {
		return 0, "", false
	}
	return n, s[i+1:], true
}

var errRecord = errors.New("malformed record")

// decodeRecord fills the immutable fields of j from a stored record.
func decodeRecord(j *backend.Job, rec string) error {
	added, rest, ok := nextField(rec)
	if !ok {
		return errRecord
	}
	prio, rest, ok := nextField(rest)
	if !ok {
		return errRecord
	}
	lifo, rest, ok := nextField(rest)
	if !ok || lifo > 1 {
		return errRecord
	}
	nlen, rest, ok := nextField(rest)
	if !ok {
		return errRecord
	}
	olen, rest, ok := nextField(rest)
	if !ok || nlen+olen > int64(len(rest)) {
		return errRecord
	}
	j.Name = rest[:nlen]
	if olen > 0 {
		var w wireOpts
		if err := json.Unmarshal([]byte(rest[nlen:nlen+olen]), &w); err != nil {
			return fmt.Errorf("%w: options: %v", errRecord, err)
		}
		j.Options = backend.JobOptions{
			Attempts: w.Attempts, Delay: time.Duration(w.Delay),
			Backoff: backend.Backoff{Type: backend.BackoffType(w.BType), Delay: time.Duration(w.BDelay), Jitter: w.BJitter},
			Timeout: time.Duration(w.Timeout), KeepLogs: w.KeepLogs,
			RemoveOnComplete: w.RC.retention(), RemoveOnFail: w.RF.retention(),
		}
	}
	j.Options.Priority = int(prio)
	j.Options.LIFO = lifo == 1
	j.Data = []byte(rest[nlen+olen:])
	j.AddedAt = msTime(added)
	return nil
}

func msTime(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

var stateLetters = map[byte]backend.State{
	'W': backend.StateWaiting, 'Z': backend.StatePaused, 'P': backend.StatePrioritized, 'D': backend.StateDelayed,
	'A': backend.StateActive, 'C': backend.StateCompleted, 'F': backend.StateFailed,
}

func stateLetter(s backend.State) string {
	for k, v := range stateLetters {
		if v == s {
			return string(k)
		}
	}
	return ""
}

// decodeState fills the mutable fields of j from "<S> <started> <made>
// <stalled> <processed_ms> <finished_ms> <due_ms>". An empty string is a job
// that has not moved since its add.
func decodeState(j *backend.Job, raw string) error {
	if raw == "" {
		j.State = backend.StateWaiting
		return nil
	}
	f := strings.Fields(raw)
	if len(f) != 7 || len(f[0]) != 1 {
		return fmt.Errorf("malformed state %q", raw)
	}
	st, ok := stateLetters[f[0][0]]
	if !ok {
		return fmt.Errorf("unknown state %q", f[0])
	}
	var n [6]int64
	for i := range n {
		v, err := strconv.ParseInt(f[i+1], 10, 64)
		if err != nil {
			return fmt.Errorf("malformed state %q", raw)
		}
		n[i] = v
	}
	j.State = st
	j.AttemptsStarted, j.AttemptsMade, j.StalledCount = int(n[0]), int(n[1]), int(n[2])
	j.ProcessedAt, j.FinishedAt, j.DueAt = msTime(n[3]), msTime(n[4]), msTime(n[5])
	return nil
}

// decodeJob decodes a job reply {1, id, record, state, reason, stacks,
// progress, result}. On a record that does not decode it returns the ID and
// a *backend.CorruptJobError.
func decodeJob(v []any) (*backend.Job, error) {
	if len(v) != 8 {
		return nil, fmt.Errorf("redis: job reply has %d elements, want 8", len(v))
	}
	id := str(v[1])
	j := &backend.Job{ID: id}
	if err := decodeRecord(j, str(v[2])); err != nil {
		return j, &backend.CorruptJobError{JobID: id, Reason: err.Error()}
	}
	if err := decodeState(j, str(v[3])); err != nil {
		return j, &backend.CorruptJobError{JobID: id, Reason: err.Error()}
	}
	j.FailedReason = str(v[4])
	if s := str(v[5]); s != "" {
		if err := json.Unmarshal([]byte(s), &j.Stacktrace); err != nil {
			return j, &backend.CorruptJobError{JobID: id, Reason: "stack traces: " + err.Error()}
		}
	}
	if p := str(v[6]); p != "" {
		j.Progress = []byte(p)
	}
	if r := str(v[7]); r != "" {
		j.ReturnValue = []byte(r)
	}
	return j, nil
}

// str reads a string (or integer) reply element; nil and false read as "".
func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case []byte:
		return string(x)
	}
	return ""
}

func num(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}

func ms(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return max(1, int64((d+time.Millisecond-1)/time.Millisecond))
}
