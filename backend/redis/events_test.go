package redisbackend

import (
	"context"
	"fmt"
	"strings"
	"testing"

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

	var jobs []backend.JobAddItem
	for i := range 40 {
		jobs = append(jobs, backend.JobAddItem{Name: fmt.Sprint(i), Data: []byte("{}"), Options: backend.JobOptions{Attempts: 1}})
	}
	_, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: "q", Jobs: jobs})
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
