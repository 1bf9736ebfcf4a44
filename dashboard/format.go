package dashboard

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
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

// prettyJSON indents v as JSON.
func prettyJSON(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err.Error()
	}
	return string(b)
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
