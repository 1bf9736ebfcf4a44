package backendtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

func runEvents(t *testing.T, f Factory) {
	read := func(b *bundle, after string, wait time.Duration) []backend.Event {
		b.t.Helper()
		evs, err := b.be.EventsRead(b.ctx, &backend.EventsReadParams{Queue: b.queue, After: after, Wait: wait, Count: 1000})
		require.NoError(b.t, err)
		return evs
	}
	types := func(evs []backend.Event, id string) []backend.EventType {
		var out []backend.EventType
		for _, ev := range evs {
			if ev.JobID == id {
				out = append(out, ev.Type)
			}
		}
		return out
	}

	t.Run("each transition records an event in order", func(t *testing.T) {
		b := setup(t, f)
		cursor, err := b.be.EventsCursor(b.ctx, &backend.QueueParams{Queue: b.queue})
		require.NoError(t, err)
		id := b.add("a", backend.JobOptions{Attempts: 2})
		j, tok := b.claim()
		require.NoError(t, b.be.JobUpdateProgress(b.ctx, &backend.JobUpdateProgressParams{Queue: b.queue, ID: id, Progress: []byte("50")}))
		_, err = b.be.JobFail(b.ctx, &backend.JobFailParams{Queue: b.queue, ID: j.ID, Token: tok, Reason: "flaky", Retry: true})
		require.NoError(t, err)
		j, tok = b.claim()
		_, err = b.be.JobComplete(b.ctx, &backend.JobCompleteParams{Queue: b.queue, ID: j.ID, Token: tok, ReturnValue: []byte(`"done"`)})
		require.NoError(t, err)
		delayed := b.add("d", backend.JobOptions{Delay: time.Hour})
		require.NoError(t, b.be.JobRemove(b.ctx, &backend.JobRemoveParams{Queue: b.queue, ID: delayed}))

		evs := read(b, cursor, 0)
		require.Equal(t, []backend.EventType{backend.EventAdded, backend.EventActive, backend.EventProgress, backend.EventRetried,
			backend.EventActive, backend.EventCompleted}, types(evs, id))
		require.Equal(t, []backend.EventType{backend.EventDelayed, backend.EventRemoved}, types(evs, delayed))
		for _, ev := range evs {
			switch {
			case ev.JobID == id && ev.Type == backend.EventProgress:
				require.Equal(t, "50", ev.Data)
			case ev.JobID == id && ev.Type == backend.EventRetried:
				require.Equal(t, "flaky", ev.Data)
			case ev.JobID == id && ev.Type == backend.EventCompleted:
				require.Equal(t, `"done"`, ev.Data)
			}
			require.False(t, ev.Time.IsZero())
			require.NotEmpty(t, ev.ID)
		}
		// Reading after the last event yields nothing more.
		require.Empty(t, read(b, evs[len(evs)-1].ID, 0))
		// Reading after a middle event yields exactly what followed it.
		require.Equal(t, evs[3:], read(b, evs[2].ID, 0))
	})

	t.Run("events of one call read back one at a time from any cursor", func(t *testing.T) {
		// One call that records several events (a bulk add; a complete that
		// claims the next job) may store them together: every event must
		// still be a cursor of its own.
		b := setup(t, f)
		cursor, err := b.be.EventsCursor(b.ctx, &backend.QueueParams{Queue: b.queue})
		require.NoError(t, err)
		var items []backend.JobAddItem
		for i := range 20 {
			items = append(items, backend.JobAddItem{Name: fmt.Sprint("j", i), Data: []byte(`{}`), Options: backend.JobOptions{Attempts: 1}})
		}
		added := b.addItems(items...)
		j, tok := b.claim()
		next := b.claimParams(b.token())
		rv := []byte("\"nul \x00 and \xff\"") // data stored next to other events keeps every byte
		res, err := b.be.JobComplete(b.ctx, &backend.JobCompleteParams{Queue: b.queue, ID: j.ID, Token: tok, ReturnValue: rv, Next: next})
		require.NoError(t, err)
		require.NotNil(t, res.Job)

		all := read(b, cursor, 0)
		var want []string
		for _, r := range added {
			want = append(want, "added "+r.ID)
		}
		want = append(want, "active "+j.ID, "completed "+j.ID, "active "+res.Job.ID)
		var got []string
		for _, ev := range all {
			got = append(got, string(ev.Type)+" "+ev.JobID)
		}
		require.Equal(t, want, got)
		require.Equal(t, string(rv), all[len(all)-2].Data)

		// One event per read, each read after the previous event's ID.
		var oneByOne []backend.Event
		for after := cursor; ; {
			evs, err := b.be.EventsRead(b.ctx, &backend.EventsReadParams{Queue: b.queue, After: after, Count: 1})
			require.NoError(t, err)
			if len(evs) == 0 {
				break
			}
			require.Len(t, evs, 1)
			oneByOne = append(oneByOne, evs[0])
			after = evs[0].ID
		}
		require.Equal(t, all, oneByOne)
		for i, ev := range all {
			require.Equal(t, all[i+1:], nonNil(read(b, ev.ID, 0)), "after event %d", i)
		}
		// A blocking read after a cursor inside a stored group returns the
		// rest of the group at once.
		evs, err := b.be.EventsRead(b.ctx, &backend.EventsReadParams{Queue: b.queue, After: all[2].ID, Wait: 5 * time.Second, Count: 1000})
		require.NoError(t, err)
		require.Equal(t, all[3:], evs)
	})

	t.Run("a failed job records failed with its reason", func(t *testing.T) {
		b := setup(t, f)
		cursor, err := b.be.EventsCursor(b.ctx, &backend.QueueParams{Queue: b.queue})
		require.NoError(t, err)
		id := b.add("a", backend.JobOptions{})
		j, tok := b.claim()
		_, err = b.be.JobFail(b.ctx, &backend.JobFailParams{Queue: b.queue, ID: j.ID, Token: tok, Reason: "final"})
		require.NoError(t, err)
		evs := read(b, cursor, 0)
		require.Equal(t, []backend.EventType{backend.EventAdded, backend.EventActive, backend.EventFailed}, types(evs, id))
		require.Equal(t, "final", evs[len(evs)-1].Data)
	})

	t.Run("a blocking read wakes on a new event", func(t *testing.T) {
		b := setup(t, f)
		cursor, err := b.be.EventsCursor(b.ctx, &backend.QueueParams{Queue: b.queue})
		require.NoError(t, err)
		got := make(chan []backend.Event, 1)
		go func() {
			evs, _ := b.be.EventsRead(b.ctx, &backend.EventsReadParams{Queue: b.queue, After: cursor, Wait: 10 * time.Second})
			got <- evs
		}()
		time.Sleep(100 * time.Millisecond)
		id := b.add("a", backend.JobOptions{})
		select {
		case evs := <-got:
			require.NotEmpty(t, evs)
			require.Equal(t, id, evs[0].JobID)
			require.Equal(t, backend.EventAdded, evs[0].Type)
		case <-time.After(8 * time.Second):
			t.Fatal("blocking read did not wake")
		}
	})

	t.Run("a read with no cursor starts from now", func(t *testing.T) {
		b := setup(t, f)
		b.add("old", backend.JobOptions{})
		evs := read(b, "", 200*time.Millisecond)
		require.Empty(t, evs, "events recorded before the read are skipped")
	})

	t.Run("a stalled job records stalled", func(t *testing.T) {
		b := setup(t, f)
		id := b.add("a", backend.JobOptions{})
		cursor, err := b.be.EventsCursor(b.ctx, &backend.QueueParams{Queue: b.queue})
		require.NoError(t, err)
		p := b.claimParams(b.token())
		p.LockDuration = 50 * time.Millisecond
		_, err = b.be.JobClaim(b.ctx, p)
		require.NoError(t, err)
		time.Sleep(150 * time.Millisecond)
		for range 2 {
			_, err := b.be.StalledCheck(b.ctx, &backend.StalledCheckParams{Queue: b.queue, MaxStalledCount: 1})
			require.NoError(t, err)
		}
		require.Equal(t, []backend.EventType{backend.EventActive, backend.EventStalled}, types(read(b, cursor, 0), id))
	})
}

// nonNil turns a nil slice into an empty one, for comparisons.
func nonNil(evs []backend.Event) []backend.Event {
	if evs == nil {
		return []backend.Event{}
	}
	return evs
}
