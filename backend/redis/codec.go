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

// The options Lua never reads are stored as "key=value" pairs joined by
// ';', zero values left out, so options that are all zero take no bytes:
//
//	a=<attempts>;d=<delay ns>;bt=<backoff type>;bd=<backoff delay ns>;bj=<jitter>;
//	t=<timeout ns>;kl=<keep logs>;rc=<remove>,<keep last>,<keep for ns>;rf=<same>;
//	m=<metadata, see meta.go>;g=<group>
//
// rf is read by Lua on the rare path that fails a job without a worker
// (stalled too often); everything else only by decodeOpts.

func encodeOpts(o *backend.JobOptions) ([]byte, error) {
	if strings.ContainsAny(string(o.Backoff.Type), ";=") {
		return nil, fmt.Errorf("backoff type %q has ';' or '='", o.Backoff.Type)
	}
	var b []byte
	num := func(key string, v int64) {
		if v != 0 {
			b = append(b, key...)
			b = append(b, '=')
			b = strconv.AppendInt(b, v, 10)
			b = append(b, ';')
		}
	}
	keep := func(key string, r backend.Retention) {
		if r != (backend.Retention{}) {
			rm := byte('0') // "a": KeepAll (lib_jobs.lua's fail_retention)
			if r.KeepAll {
				rm = 'a'
			} else if r.Remove {
				rm = '1'
			}
			b = append(b, key...)
			b = append(b, '=', rm)
			b = append(b, ',')
			b = strconv.AppendInt(b, int64(r.KeepLast), 10)
			b = append(b, ',')
			b = strconv.AppendInt(b, int64(r.KeepFor), 10)
			b = append(b, ';')
		}
	}
	num("a", int64(o.Attempts))
	num("d", int64(o.Delay))
	if o.Backoff.Type != "" {
		b = append(append(append(b, "bt="...), o.Backoff.Type...), ';')
	}
	num("bd", int64(o.Backoff.Delay))
	if o.Backoff.Jitter != 0 {
		b = append(strconv.AppendFloat(append(b, "bj="...), o.Backoff.Jitter, 'g', -1, 64), ';')
	}
	num("t", int64(o.Timeout))
	num("kl", int64(o.KeepLogs))
	keep("rc", o.RemoveOnComplete)
	keep("rf", o.RemoveOnFail)
	if len(o.Meta) > 0 {
		b = appendMeta(b, o.Meta) // meta.go
	}
	if o.Group != "" { // last, unterminated: a group may hold ';' and '='
		b = append(append(b, "g="...), o.Group...)
	}
	return b, nil
}

// decodeOpts parses encodeOpts' form into o.
func decodeOpts(o *backend.JobOptions, s string) error {
	for s != "" {
		if g, ok := strings.CutPrefix(s, "g="); ok {
			o.Group = g
			return nil
		}
		pair, rest, _ := strings.Cut(s, ";")
		s = rest
		key, val, ok := strings.Cut(pair, "=")
		if !ok {
			return fmt.Errorf("option %q has no value", pair)
		}
		var err error
		switch key {
		case "a":
			o.Attempts, err = strconv.Atoi(val)
		case "d":
			o.Delay, err = durationOf(val)
		case "bt":
			o.Backoff.Type = backend.BackoffType(val)
		case "bd":
			o.Backoff.Delay, err = durationOf(val)
		case "bj":
			o.Backoff.Jitter, err = strconv.ParseFloat(val, 64)
		case "t":
			o.Timeout, err = durationOf(val)
		case "kl":
			o.KeepLogs, err = strconv.Atoi(val)
		case "rc":
			o.RemoveOnComplete, err = retentionOf(val)
		case "rf":
			o.RemoveOnFail, err = retentionOf(val)
		case "m":
			o.Meta, err = decodeMeta(val)
		default:
			err = errors.New("unknown option")
		}
		if err != nil {
			return fmt.Errorf("option %q: %w", pair, err)
		}
	}
	return nil
}

func durationOf(s string) (time.Duration, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	return time.Duration(n), err
}

func retentionOf(s string) (backend.Retention, error) {
	f := strings.Split(s, ",")
	if len(f) != 3 {
		return backend.Retention{}, errors.New("want remove,keep last,keep for")
	}
	last, err1 := strconv.Atoi(f[1])
	keepFor, err2 := durationOf(f[2])
	if err := errors.Join(err1, err2); err != nil || (f[0] != "0" && f[0] != "1" && f[0] != "a") {
		return backend.Retention{}, errors.New("malformed retention")
	}
	return backend.Retention{Remove: f[0] == "1", KeepLast: last, KeepFor: keepFor, KeepAll: f[0] == "a"}, nil
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
	// Compare each length on its own: their sum can overflow int64.
	if !ok || nlen > int64(len(rest)) || olen > int64(len(rest))-nlen {
		return errRecord
	}
	j.Name = rest[:nlen]
	if err := decodeOpts(&j.Options, rest[nlen:nlen+olen]); err != nil {
		return fmt.Errorf("%w: %v", errRecord, err)
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
	'K': backend.StateWaitingChildren,
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
// <stalled> <processed_ms> <finished_ms> <due_ms> <lock_expires_ms> <token>"
// (see lua/lib.lua).
func decodeState(j *backend.Job, raw string) error {
	f := strings.SplitN(raw, " ", 9)
	if len(f) != 9 || len(f[0]) != 1 {
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

// decodeJob decodes a job reply (lua/lib_jobs.lua job_reply): "J" and seven
// length-prefixed fields. On a stored job that does not decode it returns the
// job's ID and a *backend.CorruptJobError.
func decodeJob(reply string) (*backend.Job, error) {
	var f [7]string
	rest, ok := strings.CutPrefix(reply, "J")
	for i := range f {
		if !ok {
			break
		}
		var n int64
		n, rest, ok = nextField(rest)
		if ok && n <= int64(len(rest)) {
			f[i], rest = rest[:n], rest[n:]
		} else {
			ok = false
		}
	}
	if !ok || rest != "" {
		return nil, fmt.Errorf("redis: malformed job reply %.60q", reply)
	}
	id := f[0]
	j := &backend.Job{ID: id}
	if err := decodeRecord(j, f[1]); err != nil {
		return j, &backend.CorruptJobError{JobID: id, Reason: err.Error()}
	}
	if err := decodeState(j, f[2]); err != nil {
		return j, &backend.CorruptJobError{JobID: id, Reason: err.Error()}
	}
	j.FailedReason = f[3]
	if f[4] != "" {
		if err := json.Unmarshal([]byte(f[4]), &j.Stacktrace); err != nil {
			return j, &backend.CorruptJobError{JobID: id, Reason: "stack traces: " + err.Error()}
		}
	}
	if f[5] != "" {
		j.Progress = []byte(f[5])
	}
	if f[6] != "" {
		j.ReturnValue = []byte(f[6])
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
	n := int64(d / time.Millisecond) // rounded up, without overflowing near math.MaxInt64
	if d%time.Millisecond != 0 {
		n++
	}
	return max(1, n)
}
