package redisbackend

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

// miniBackend is a Backend on a fresh miniredis, and a client to inspect it.
func miniBackend(t *testing.T) (*Backend, *redis.Client) {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	be := New(rdb)
	t.Cleanup(func() { be.Close(); rdb.Close() })
	return be, rdb
}

// One script call that records several events appends few stream entries:
// a bulk add of 40 jobs is 3 entries (16 events each at most), and a
// complete that claims the next job is one.
func TestEventsOfOneCallShareEntries(t *testing.T) {
	be, rdb := miniBackend(t)
	ctx := context.Background()
	stream := "fila:{q}:events"
	_, err := be.EventsCursor(ctx, &backend.QueueParams{Queue: "q"}) // a reader: events are recorded
	require.NoError(t, err)

	var jobs []backend.JobAddItem
	for i := range 40 {
		jobs = append(jobs, backend.JobAddItem{Name: fmt.Sprint(i), Data: []byte("{}"), Options: backend.JobOptions{Attempts: 1}})
	}
	_, err = be.JobAdd(ctx, &backend.JobAddParams{Queue: "q", Jobs: jobs})
	require.NoError(t, err)
	require.EqualValues(t, 3, rdb.XLen(ctx, stream).Val())

	c, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: "q", Token: "a", LockDuration: 60e9})
	require.NoError(t, err)
	_, err = be.JobComplete(ctx, &backend.JobCompleteParams{Queue: "q", ID: c.Job.ID, Token: "a",
		Next: &backend.JobClaimParams{Queue: "q", Token: "b", LockDuration: 60e9}})
	require.NoError(t, err)
	require.EqualValues(t, 5, rdb.XLen(ctx, stream).Val(), "the claim's entry, then completed and active in one")

	evs, err := be.EventsRead(ctx, &backend.EventsReadParams{Queue: "q", After: "0-0", Count: 1000})
	require.NoError(t, err)
	require.Len(t, evs, 43)
}

func TestEntryEventsStopsAtDamage(t *testing.T) {
	e := StreamEntry{ID: "5-1", Values: map[string]string{"m": "5:added1:70:5:added1:80:9:trunc"}}
	evs := entryEvents(e)
	require.Len(t, evs, 2)
	require.Equal(t, backend.Event{ID: "5-1/0", Type: "added", JobID: "7", Time: evs[0].Time}, evs[0])
	require.Equal(t, "5-1", evs[1].ID, "the last event of an entry is the entry's own ID")
	for _, bad := range []string{"x", "9:added", "-1:a", "5:added1:7", "99999999999999999999:a"} {
		require.NotPanics(t, func() { entryEvents(StreamEntry{ID: "1-0", Values: map[string]string{"m": bad}}) }, bad)
	}
}

func TestParseCursor(t *testing.T) {
	for c, want := range map[string][2]any{
		"0-0": {"0-0", -1}, "17-3": {"17-3", -1}, "17-3/2": {"17-3", 2}, "0": {"0", -1},
	} {
		entry, skip, err := parseCursor(c)
		require.NoError(t, err, c)
		require.Equal(t, want[0], entry, c)
		require.Equal(t, want[1], skip, c)
	}
	for _, c := range []string{"$", "a-1", "1-b", "1-2/x", "1-2/-1", "1/0", ""} {
		_, _, err := parseCursor(c)
		require.ErrorContains(t, err, "malformed event cursor", c)
	}
	require.Equal(t, "17-2", streamIDBefore("17-3"))
	require.Equal(t, "16-18446744073709551615", streamIDBefore("17-0"))
	require.Equal(t, "0-0", streamIDBefore("0-0"))
}

// A stream entry is read back from Redis, so its decoding must never panic,
// and every event it yields must have a cursor that parses back to the
// entry and its index.
func FuzzEntryEvents(f *testing.F) {
	f.Add("17-3", "5:added1:70:6:active1:70:")
	f.Add("17-3", "9:completed2:4212:\"r\\x00\"")
	f.Add("0-1", "x")
	f.Add("1-0", "99999999999999999999:a")
	f.Fuzz(func(t *testing.T, id, packed string) {
		if _, skip, err := parseCursor(id); err != nil || skip >= 0 || !strings.Contains(id, "-") {
			return // entry IDs come from Redis: "<ms>-<seq>"
		}
		evs := entryEvents(StreamEntry{ID: id, Values: map[string]string{"m": packed}})
		for i, ev := range evs {
			entry, skip, err := parseCursor(ev.ID)
			if err != nil {
				t.Fatalf("event %d of %q: cursor %q: %v", i, packed, ev.ID, err)
			}
			if entry != id || (i == len(evs)-1) != (skip == -1) || (skip >= 0 && skip != i) {
				t.Fatalf("event %d of %d: cursor %q for entry %q", i, len(evs), ev.ID, id)
			}
		}
		after := eventsOf([]StreamEntry{{ID: id, Values: map[string]string{"m": packed}}}, id, 0, 1000)
		if len(evs) > 0 && len(after) != len(evs)-1 {
			t.Fatalf("after the first of %d events: %d", len(evs), len(after))
		}
	})
}

// Events are written only while a reader's mark holds (lib.lua readers):
// an add or a finish with nobody reading the queue's events writes no
// stream entry; a cursor (or a read) marks a reader for five minutes of
// the server's clock.
func TestEventsAreRecordedWhileSomeoneReads(t *testing.T) {
	mr := miniredis.RunT(t)
	t0 := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	mr.SetTime(t0)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	be := New(rdb)
	t.Cleanup(func() { be.Close(); rdb.Close() })
	ctx := context.Background()
	stream := "fila:{q}:events"
	add := func() {
		t.Helper()
		_, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: "q", Jobs: []backend.JobAddItem{{Name: "n", Data: []byte("{}"), Options: backend.JobOptions{Attempts: 1}}}})
		require.NoError(t, err)
	}

	add()
	c, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: "q", Token: "a", LockDuration: time.Minute})
	require.NoError(t, err)
	_, err = be.JobComplete(ctx, &backend.JobCompleteParams{Queue: "q", ID: c.Job.ID, Token: "a"})
	require.NoError(t, err)
	require.Zero(t, rdb.Exists(ctx, stream).Val(), "nobody reads: no stream")

	cursor, err := be.EventsCursor(ctx, &backend.QueueParams{Queue: "q"})
	require.NoError(t, err)
	add()
	evs, err := be.EventsRead(ctx, &backend.EventsReadParams{Queue: "q", After: cursor, Count: 10})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	require.Equal(t, backend.EventAdded, evs[0].Type)

	mr.SetTime(t0.Add(4*time.Minute + 59*time.Second)) // within five minutes of the last read
	add()
	mr.SetTime(t0.Add(10 * time.Minute)) // five minutes after the last read
	add()
	evs, err = be.EventsRead(ctx, &backend.EventsReadParams{Queue: "q", After: cursor, Count: 10})
	require.NoError(t, err)
	require.Len(t, evs, 2, "the add at 4m59s is recorded, the one at 10m is not")
}
