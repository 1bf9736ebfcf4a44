package redisbackend

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fila-go/fila/backend"
)

// The event stream holds one entry per script call that recorded events
// (lib.lua, write_events): a lone event as fields e, j and d, several as
// one field m of length-prefixed triples. An event's cursor is its entry's
// stream ID when it is the entry's last event, and "<stream ID>/<index>"
// otherwise, so reading after any event, including one inside an entry,
// yields exactly what followed it.

// EventsRead implements backend.Backend: XREAD BLOCK on a cancellable
// connection when the transport blocks, a polled read script otherwise.
func (b *Backend) EventsRead(ctx context.Context, p *backend.EventsReadParams) ([]backend.Event, error) {
	if b.closed.Load() {
		return nil, backend.ErrClosed
	}
	q := b.queue(p.Queue)
	after := p.After
	if after == "" {
		cur, err := b.EventsCursor(ctx, &backend.QueueParams{Queue: p.Queue})
		if err != nil {
			return nil, err
		}
		after = cur
	}
	entry, skip, err := parseCursor(after)
	if err != nil {
		return nil, err
	}
	from := entry
	if skip >= 0 {
		from = streamIDBefore(entry) // read the entry itself again
	}
	count := p.Count
	if count <= 0 {
		count = 100
	}
	if b.blocker != nil && p.Wait > 0 {
		// A blocking read is a plain XREAD; cursor.lua renews the reader's
		// mark that keeps events recorded (lib.lua readers) once a minute.
		if time.Since(time.Unix(0, q.readerMark.Load())) > readerRenew {
			if _, err := b.EventsCursor(ctx, &backend.QueueParams{Queue: p.Queue}); err != nil {
				return nil, err
			}
		}
		entries, err := b.blocker.XRead(ctx, q.keys[keyEvents], from, count, min(p.Wait, b.opts.blockTimeout))
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if b.closed.Load() {
				return nil, backend.ErrClosed
			}
			return nil, fmt.Errorf("redis: %w", err)
		}
		return eventsOf(entries, entry, skip, count), nil
	}
	deadline := time.Now().Add(p.Wait)
	interval := b.opts.pollMin
	for {
		v, err := b.run(ctx, b.s.events, q, from, count)
		if err != nil {
			return nil, err
		}
		arr, _ := v.([]any)
		entries := make([]StreamEntry, 0, len(arr)/2)
		for i := 0; i+1 < len(arr); i += 2 {
			fields, _ := arr[i+1].([]any)
			vals := make(map[string]string, len(fields)/2)
			for k := 0; k+1 < len(fields); k += 2 {
				vals[str(fields[k])] = str(fields[k+1])
			}
			entries = append(entries, StreamEntry{ID: str(arr[i]), Values: vals})
		}
		out := eventsOf(entries, entry, skip, count)
		left := time.Until(deadline)
		if len(out) > 0 || left <= 0 {
			return out, nil
		}
		if err := b.pollWait(ctx, nil, min(interval, left)); err != nil {
			return nil, err
		}
		interval = min(interval*2, b.opts.pollMax)
	}
}

// readerRenew is how often a process that reads a queue's events with
// blocking reads renews its reader's mark, which lasts five minutes
// (lib.lua READERS_MS): events are recorded only while a reader's mark
// holds.
const readerRenew = time.Minute

// EventsCursor implements backend.Backend.
func (b *Backend) EventsCursor(ctx context.Context, p *backend.QueueParams) (string, error) {
	q := b.queue(p.Queue)
	v, err := b.run(ctx, b.s.cursor, q)
	if err != nil {
		return "", err
	}
	q.readerMark.Store(time.Now().UnixNano())
	return str(v), nil
}

// eventsOf decodes stream entries into at most count events, leaving out
// those of entry skipEntry up to index skip (a cursor inside that entry).
func eventsOf(entries []StreamEntry, skipEntry string, skip, count int) []backend.Event {
	var out []backend.Event
	for _, e := range entries {
		evs := entryEvents(e)
		if e.ID == skipEntry && skip >= 0 {
			evs = evs[min(skip+1, len(evs)):]
		}
		for _, ev := range evs {
			if len(out) == count {
				return out
			}
			out = append(out, ev)
		}
	}
	return out
}

// entryEvents decodes one entry's events and gives each its cursor. A
// malformed multi-event field yields the events before the damage.
func entryEvents(e StreamEntry) []backend.Event {
	var at time.Time
	if msPart, _, ok := strings.Cut(e.ID, "-"); ok {
		if n, err := strconv.ParseInt(msPart, 10, 64); err == nil {
			at = time.UnixMilli(n)
		}
	}
	packed, multi := e.Values["m"]
	if !multi {
		return []backend.Event{{ID: e.ID, Type: backend.EventType(e.Values["e"]), JobID: e.Values["j"], Data: e.Values["d"], Time: at}}
	}
	var out []backend.Event
	for rest := packed; rest != ""; {
		var f [3]string
		ok := true
		for i := range f {
			if f[i], rest, ok = lengthPrefixed(rest); !ok {
				break
			}
		}
		if !ok {
			break
		}
		out = append(out, backend.Event{Type: backend.EventType(f[0]), JobID: f[1], Data: f[2], Time: at})
	}
	for i := range out {
		out[i].ID = e.ID
		if i < len(out)-1 {
			out[i].ID = e.ID + "/" + strconv.Itoa(i)
		}
	}
	return out
}

// lengthPrefixed splits "<len>:<bytes>..." into the bytes and the rest.
func lengthPrefixed(s string) (field, rest string, ok bool) {
	n, after, found := strings.Cut(s, ":")
	if !found {
		return "", "", false
	}
	size, err := strconv.Atoi(n)
	if err != nil || size < 0 || size > len(after) {
		return "", "", false
	}
	return after[:size], after[size:], true
}

// parseCursor splits a cursor into its stream entry ID and the index of the
// last event read inside that entry (-1: the whole entry was read).
func parseCursor(c string) (entry string, skip int, err error) {
	entry, idx, inside := strings.Cut(c, "/")
	ms, seq, ok := strings.Cut(entry, "-")
	if !ok {
		ms, seq = entry, "0"
	}
	if _, err := strconv.ParseUint(ms, 10, 64); err != nil {
		return "", 0, fmt.Errorf("redis: malformed event cursor %q", c)
	}
	if _, err := strconv.ParseUint(seq, 10, 64); err != nil {
		return "", 0, fmt.Errorf("redis: malformed event cursor %q", c)
	}
	if !inside {
		return entry, -1, nil
	}
	skip, err = strconv.Atoi(idx)
	if err != nil || skip < 0 || !ok {
		return "", 0, fmt.Errorf("redis: malformed event cursor %q", c)
	}
	return entry, skip, nil
}

// streamIDBefore is the stream ID just before id ("<ms>-<seq>"), so that
// reading after it includes id itself.
func streamIDBefore(id string) string {
	msPart, seqPart, _ := strings.Cut(id, "-")
	ms, _ := strconv.ParseUint(msPart, 10, 64)
	seq, _ := strconv.ParseUint(seqPart, 10, 64)
	switch {
	case seq > 0:
		return strconv.FormatUint(ms, 10) + "-" + strconv.FormatUint(seq-1, 10)
	case ms > 0:
		return strconv.FormatUint(ms-1, 10) + "-18446744073709551615"
	}
	return "0-0"
}
