package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/fila-go/fila/examples/whatsapp/fakegraph"
)

// replyResult is what the fake Graph API saw of the replies.
type replyResult struct {
	latencies  []time.Duration // from the webhook POST to its reply's arrival
	duplicates int             // replies beyond the first to a message
	reads      int             // read receipts for the run's messages
	first      time.Time
	last       time.Time
	timedOut   bool
}

// awaitReplies waits until every accepted webhook got a reply at the fake,
// or drain passes, and matches replies to webhooks by context.message_id.
func awaitReplies(ctx context.Context, fake *fakegraph.Server, s *sendResult, drain time.Duration) *replyResult {
	wctx, cancel := context.WithTimeout(ctx, drain)
	defer cancel()
	answered := func(calls []fakegraph.Call) int {
		n := 0
		for _, c := range fakegraph.Filter(calls, fakegraph.Send, true) {
			if _, ok := s.posted[c.ReplyTo]; ok {
				n++
			}
		}
		return n
	}
	err := fake.Wait(wctx, func(calls []fakegraph.Call) bool { return answered(calls) >= len(s.posted) })
	r := &replyResult{timedOut: err != nil}
	seen := map[string]bool{}
	for _, c := range fake.Calls() {
		if !c.OK() {
			continue
		}
		if c.Kind == fakegraph.Read {
			if _, ok := s.posted[c.MessageID]; ok {
				r.reads++
			}
			continue
		}
		posted, ok := s.posted[c.ReplyTo]
		if c.Kind != fakegraph.Send || !ok {
			continue
		}
		if seen[c.ReplyTo] {
			r.duplicates++
			continue
		}
		seen[c.ReplyTo] = true
		r.latencies = append(r.latencies, c.At.Sub(posted))
		if r.first.IsZero() || c.At.Before(r.first) {
			r.first = c.At
		}
		if c.At.After(r.last) {
			r.last = c.At
		}
	}
	return r
}

// report prints the results.
type report struct {
	opts    *options
	send    *sendResult
	replies *replyResult
}

func (r *report) print(w io.Writer) {
	s := r.send
	window := s.end.Sub(s.start).Seconds()
	accepted := len(s.posted)
	fmt.Fprintf(w, "\nwebhooks: %d posted in %.1fs, %d accepted (%.1f/s)", accepted+s.errors+others(s.codes), window, accepted, float64(accepted)/window)
	if n := others(s.codes); n > 0 {
		fmt.Fprintf(w, ", %d refused %v", n, s.codes)
	}
	if s.errors > 0 {
		fmt.Fprintf(w, ", %d unanswered", s.errors)
	}
	if s.late > 0 {
		fmt.Fprintf(w, ", %d started late (-concurrency in flight)", s.late)
	}
	fmt.Fprintf(w, "\nwebhook latency: %s\n", percentiles(s.latencies))
	if r.replies == nil {
		return
	}
	rr := r.replies
	fmt.Fprintf(w, "replies: %d of %d", len(rr.latencies), accepted)
	if rr.timedOut {
		fmt.Fprintf(w, " (gave up after -drain %s)", r.opts.drain)
	}
	fmt.Fprintf(w, ", duplicates %d, read receipts %d", rr.duplicates, rr.reads)
	if span := rr.last.Sub(rr.first).Seconds(); len(rr.latencies) > 1 && span > 0 {
		fmt.Fprintf(w, ", %.1f replies/s", float64(len(rr.latencies)-1)/span)
	}
	fmt.Fprintf(w, "\nreply latency (webhook POST -> reply at the Graph API): %s\n", percentiles(rr.latencies))
}

func others(codes map[int]int) int {
	n := 0
	for c, k := range codes {
		if c != 200 {
			n += k
		}
	}
	return n
}

// percentiles formats p50, p90, p99 and max of ds.
func percentiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	at := func(q float64) time.Duration { return ds[min(int(q*float64(len(ds))), len(ds)-1)] }
	var b strings.Builder
	for _, p := range []struct {
		name string
		q    float64
	}{{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}} {
		fmt.Fprintf(&b, "%s %s  ", p.name, round(at(p.q)))
	}
	fmt.Fprintf(&b, "max %s", round(ds[len(ds)-1]))
	return b.String()
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
