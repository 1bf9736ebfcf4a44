package backendtest

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

func runAdd(t *testing.T, f Factory) {
	t.Run("assigns distinct numeric IDs and stores every field", func(t *testing.T) {
		b := setup(t, f)
		opts := backend.JobOptions{
			Priority: 0, LIFO: true, Attempts: 4,
			Backoff: backend.Backoff{Type: backend.BackoffExponential, Delay: 250 * time.Millisecond, Jitter: 0.5},
			Timeout: 3 * time.Second, KeepLogs: 7,
			RemoveOnComplete: backend.Retention{KeepLast: 10, KeepFor: time.Hour},
			RemoveOnFail:     backend.Retention{Remove: true},
		}
		data := make([]byte, 256)
		for i := range data {
			data[i] = byte(i)
		}
		before := time.Now()
		res := b.addItems(
			backend.JobAddItem{Name: "first", Data: data, Options: opts},
			backend.JobAddItem{Name: "second", Data: nil, Options: backend.JobOptions{Attempts: 1}},
		)
		require.Equal(t, backend.AddCreated, res[0].Status)
		require.Equal(t, backend.AddCreated, res[1].Status)
		require.NotEqual(t, res[0].ID, res[1].ID)
		for _, r := range res {
			_, err := strconv.ParseUint(r.ID, 10, 64)
			require.NoError(t, err, "generated IDs are numeric, got %q", r.ID)
			require.Equal(t, backend.StateWaiting, r.State)
		}

		j := b.get(res[0].ID)
		require.Equal(t, "first", j.Name)
		require.Equal(t, data, j.Data, "binary data survives a round trip")
		require.Equal(t, opts, j.Options)
		require.Equal(t, backend.StateWaiting, j.State)
		require.WithinDuration(t, before, j.AddedAt, 5*time.Second)
		require.WithinDuration(t, res[0].AddedAt, j.AddedAt, time.Millisecond)
		require.Zero(t, j.AttemptsMade)
		require.Zero(t, j.AttemptsStarted)
		require.True(t, j.ProcessedAt.IsZero())
		require.True(t, j.FinishedAt.IsZero())

		require.Empty(t, b.get(res[1].ID).Data)
	})

	t.Run("custom IDs may hold any printable characters", func(t *testing.T) {
		b := setup(t, f)
		for _, id := range []string{"wamid.HBgL+/=", "{other}:job:1", "ünïcødé ✓", "with space", "x}{"} {
			res := b.addItems(backend.JobAddItem{ID: id, Name: "n", Options: backend.JobOptions{Attempts: 1}})
			require.Equal(t, backend.AddCreated, res[0].Status, id)
			require.Equal(t, id, res[0].ID)
			require.Equal(t, id, b.get(id).ID)
		}
		require.EqualValues(t, 5, b.counts().Waiting)
	})

	t.Run("an existing ID returns that job and changes nothing", func(t *testing.T) {
		b := setup(t, f)
		first := b.addItems(backend.JobAddItem{ID: "same", Name: "a", Data: []byte("1"), Options: backend.JobOptions{Attempts: 1}})
		again := b.addItems(backend.JobAddItem{ID: "same", Name: "b", Data: []byte("2"), Options: backend.JobOptions{Attempts: 1, Delay: time.Hour}})
		require.Equal(t, backend.AddCreated, first[0].Status)
		require.Equal(t, backend.AddExists, again[0].Status)
		require.Equal(t, "same", again[0].ID)
		require.Equal(t, backend.StateWaiting, again[0].State)
		j := b.get("same")
		require.Equal(t, "a", j.Name)
		require.Equal(t, []byte("1"), j.Data)
		require.EqualValues(t, 1, b.counts().Waiting)
		require.EqualValues(t, 0, b.counts().Delayed)

		// Still idempotent once the job has finished and is kept.
		jj, tok := b.claim()
		b.complete(jj.ID, tok)
		again = b.addItems(backend.JobAddItem{ID: "same", Name: "c", Options: backend.JobOptions{Attempts: 1}})
		require.Equal(t, backend.AddExists, again[0].Status)
		require.Equal(t, backend.StateCompleted, again[0].State)
		require.Equal(t, backend.Counts{Completed: 1}, b.counts())
	})

	t.Run("the same ID added from 10 goroutines makes one job", func(t *testing.T) {
		b := setup(t, f)
		var wg sync.WaitGroup
		statuses := make([]backend.AddStatus, 10)
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := b.be.JobAdd(b.ctx, &backend.JobAddParams{Queue: b.queue, Jobs: []backend.JobAddItem{
					{ID: "contended", Name: "n", Options: backend.JobOptions{Attempts: 1}},
				}})
				if err == nil {
					statuses[i] = res[0].Status
				} else {
					statuses[i] = -1
				}
			}()
		}
		wg.Wait()
		created := 0
		for _, s := range statuses {
			require.NotEqual(t, backend.AddStatus(-1), s)
			if s == backend.AddCreated {
				created++
			}
		}
		require.Equal(t, 1, created)
		require.EqualValues(t, 1, b.counts().Waiting)
	})

	t.Run("a dedup ID drops adds within its TTL, even after the first job is gone", func(t *testing.T) {
		b := setup(t, f)
		ttl := 2 * time.Second // the adds before the sleep fit in it on a loaded machine
		add := func() backend.JobAddResult {
			return b.addItems(backend.JobAddItem{Name: "n", Options: backend.JobOptions{Attempts: 1},
				Dedup: &backend.Dedup{ID: "wamid.1", TTL: ttl}})[0]
		}
		first := add()
		require.Equal(t, backend.AddCreated, first.Status)
		dup := add()
		require.Equal(t, backend.AddDeduplicated, dup.Status)
		require.Equal(t, first.ID, dup.ID, "a deduplicated add names the job that used the dedup ID")

		j, tok := b.claim()
		_, err := b.be.JobComplete(b.ctx, &backend.JobCompleteParams{Queue: b.queue, ID: j.ID, Token: tok,
			Retention: backend.Retention{Remove: true}})
		require.NoError(t, err)
		_, err = b.be.JobGet(b.ctx, &backend.JobGetParams{Queue: b.queue, ID: first.ID})
		require.ErrorIs(t, err, backend.ErrJobNotFound)
		require.Equal(t, backend.AddDeduplicated, add().Status, "removed by retention, still deduplicated")
		require.Equal(t, backend.Counts{}, b.counts())

		time.Sleep(ttl + 100*time.Millisecond)
		again := add()
		require.Equal(t, backend.AddCreated, again.Status, "after the TTL a new job is added")
		require.NotEqual(t, first.ID, again.ID)
		require.EqualValues(t, 1, b.counts().Waiting)
	})

	t.Run("bulk adds keep their order", func(t *testing.T) {
		b := setup(t, f)
		items := make([]backend.JobAddItem, 120)
		for i := range items {
			items[i] = backend.JobAddItem{Name: strconv.Itoa(i), Options: backend.JobOptions{Attempts: 1}}
		}
		res := b.addItems(items...)
		seen := map[string]bool{}
		for _, r := range res {
			require.Equal(t, backend.AddCreated, r.Status)
			require.False(t, seen[r.ID])
			seen[r.ID] = true
		}
		order := b.claimOrder()
		require.Len(t, order, 120)
		for i, name := range order {
			require.Equal(t, strconv.Itoa(i), name)
		}
	})

	t.Run("a missing job is ErrJobNotFound", func(t *testing.T) {
		b := setup(t, f)
		_, err := b.be.JobGet(b.ctx, &backend.JobGetParams{Queue: b.queue, ID: "nope"})
		require.ErrorIs(t, err, backend.ErrJobNotFound)
		for name, call := range map[string]func() error{
			"remove":  func() error { return b.be.JobRemove(b.ctx, &backend.JobRemoveParams{Queue: b.queue, ID: "nope"}) },
			"retry":   func() error { return b.be.JobRetry(b.ctx, &backend.JobRetryParams{Queue: b.queue, ID: "nope"}) },
			"promote": func() error { return b.be.JobPromote(b.ctx, &backend.JobPromoteParams{Queue: b.queue, ID: "nope"}) },
			"progress": func() error {
				return b.be.JobUpdateProgress(b.ctx, &backend.JobUpdateProgressParams{Queue: b.queue, ID: "nope", Progress: []byte("1")})
			},
			"log": func() error {
				_, err := b.be.JobLogAdd(b.ctx, &backend.JobLogAddParams{Queue: b.queue, ID: "nope", Line: "x"})
				return err
			},
			"complete": func() error {
				_, err := b.be.JobComplete(b.ctx, &backend.JobCompleteParams{Queue: b.queue, ID: "nope", Token: "t"})
				return err
			},
		} {
			err := call()
			require.Error(t, err, name)
			require.True(t, errors.Is(err, backend.ErrJobNotFound), "%s: %v", name, err)
		}
		require.Equal(t, backend.Counts{}, b.counts())
	})
}
