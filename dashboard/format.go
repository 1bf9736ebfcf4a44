package dashboard

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fila-go/fila"
)

// showBytes returns job bytes as text fit for a <pre>: indented JSON when
// they are JSON, the text when they are UTF-8, else a hex dump. The
// template escapes the result.
func showBytes(b []byte) (text, format string) {
	if len(b) == 0 {
		return "", "empty"
	}
	if json.Valid(b) {
		var out bytes.Buffer
		if json.Indent(&out, b, "", "  ") == nil {
			return out.String(), "JSON"
		}
	}
	if utf8.Valid(b) {
		return string(b), "text"
	}
	return hex.Dump(b), "bytes (hex)"
}

// optionLines lists the options that are set, one "Name: value" a line,
// durations written as durations.
func optionLines(v any) string {
	var b strings.Builder
	var walk func(prefix string, rv reflect.Value)
	walk = func(prefix string, rv reflect.Value) {
		if rv.Kind() == reflect.Pointer {
			if rv.IsNil() {
				return
			}
			rv = rv.Elem()
		}
		rt := rv.Type()
		for i := range rt.NumField() {
			f, fv := rt.Field(i), rv.Field(i)
			if !f.IsExported() || fv.IsZero() {
				continue
			}
			name := prefix + f.Name
			switch {
			case fv.Type() == reflect.TypeOf(time.Duration(0)):
				fmt.Fprintf(&b, "%s: %s\n", name, time.Duration(fv.Int()))
			case fv.Kind() == reflect.Struct || (fv.Kind() == reflect.Pointer && fv.Elem().Kind() == reflect.Struct):
				walk(name+".", fv)
			default:
				fmt.Fprintf(&b, "%s: %v\n", name, fv.Interface())
			}
		}
	}
	walk("", reflect.ValueOf(v))
	if b.Len() == 0 {
		return "(all defaults)"
	}
	return b.String()
}

// timeline lists what is known of a job's life, in order.
func timeline(j *fila.Job) []event {
	var ev []event
	add := func(what string, t time.Time) {
		if !t.IsZero() {
			ev = append(ev, event{what, t.UTC().Format("2006-01-02 15:04:05.000 UTC")})
		}
	}
	add("added", j.AddedAt)
	if j.State == fila.StateDelayed {
		add("due", j.DueAt)
	}
	add("latest attempt started ("+strconv.Itoa(j.AttemptsStarted)+" started, "+strconv.Itoa(j.AttemptsMade)+" ended)", j.ProcessedAt)
	switch j.State {
	case fila.StateCompleted:
		add("completed", j.FinishedAt)
	case fila.StateFailed:
		add("failed for good", j.FinishedAt)
	}
	return ev
}

// flashes are the messages an action's redirect may show; the query names
// one, so a crafted link cannot put its own words on the page.
var flashes = map[string]string{
	"retry": "Job retried.", "promote": "Job promoted.", "remove": "Job removed.",
	"pause": "Queue paused.", "resume": "Queue resumed.",
	"retry-failed": "Failed jobs retried: ", "clean": "Jobs cleaned: ",
	"drain": "Jobs drained: ", "promote-delayed": "Delayed jobs promoted: ",
	"pause-group": "Group paused.", "resume-group": "Group resumed.", "remove-scheduler": "Scheduler removed.",
}

// flash returns the message of the request's done= and n= parameters.
func flash(r *http.Request) string {
	msg, ok := flashes[r.URL.Query().Get("done")]
	if !ok {
		return ""
	}
	if n, err := strconv.Atoi(r.URL.Query().Get("n")); err == nil && msg[len(msg)-1] == ' ' {
		msg += strconv.Itoa(n)
	}
	return msg
}
