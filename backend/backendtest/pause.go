package backendtest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

func runPause(t *testing.T, f Factory) {
	pause := func(b *bundle, paused bool) {
		b.t.Helper()
		require.NoError(b.t, b.be.QueuePause(b.ctx, &backend.QueuePauseParams{Queue: b.queue, Paused: paused}))
	}
	info := func(b *bundle) *backend.QueueInfo {
		b.t.Helper()
		i, err := b.be.QueueInfo(b.ctx, &backend.QueueParams{Queue: b.queue})
		require.NoError(b.t, err)
		return i
	}

	t.Run("a paused queue accepts adds and runs nothing until resumed", func(t *testing.T) {
		b := setup(t, f)
		b.add("before", backend.JobOptions{})
		pause(b, true)
		require.True(t, info(b).Paused)
		b.add("during", backend.JobOptions{})
		b.add("prio", backend.JobOptions{Priority: 1})
		require.Equal(t, backend.Counts{Paused: 2, Prioritized: 1}, b.counts())
		require.Len(t, b.list(backend.StatePaused), 2)
		require.Empty(t, b.list(backend.StateWaiting))
		j, _ := b.claim()
		require.Nil(t, j, "claimed from a paused queue")

		p := b.claimParams(b.token())
		p.Wait = 300 * time.Millisecond
		res, err := b.be.JobClaim(b.ctx, p)
		require.NoError(t, err)
		require.Nil(t, res.Job, "a blocking claim on a paused queue returned a job")

		pause(b, false)
		require.False(t, info(b).Paused)
		require.Equal(t, backend.Counts{Waiting: 2, Prioritized: 1}, b.counts())
		require.Equal(t, []string{"before", "during", "prio"}, b.claimOrder())
	})

	// blocked starts a claim that waits up to 10s and reports its job (nil
	// on an error or none).
	blocked := func(b *bundle) <-chan *backend.Job {
		got := make(chan *backend.Job, 1)
		go func() {
			p := b.claimParams(b.tokenFor("blocked"))
			p.Wait = 10 * time.Second
			res, err := b.be.JobClaim(b.ctx, p)
			if err != nil {
				got <- nil
				return
			}
			got <- res.Job
		}()
		return got
	}
	t.Run("resume wakes a blocked claim", func(t *testing.T) {
		b := setup(t, f)
		pause(b, true)
		b.add("a", backend.JobOptions{})
		got := blocked(b)
		time.Sleep(200 * time.Millisecond)
		select {
		case <-got:
			t.Fatal("claimed while paused")
		default:
		}
		pause(b, false)
		select {
		case j := <-got:
			require.NotNil(t, j)
			require.Equal(t, "a", j.Name)
		case <-time.After(8 * time.Second):
			t.Fatal("resume did not wake the blocked claim")
		}
	})

	t.Run("pause and resume are idempotent", func(t *testing.T) {
		b := setup(t, f)
		b.add("a", backend.JobOptions{})
		pause(b, true)
		pause(b, true)
		require.Equal(t, backend.Counts{Paused: 1}, b.counts())
		pause(b, false)
		pause(b, false)
		require.Equal(t, backend.Counts{Waiting: 1}, b.counts())
	})

	// promotedWhilePaused waits for the due delayed job to move to paused
	// while a claim is blocked, then resumes and expects that claim to get it.
	promotedWhilePaused := func(b *bundle, got <-chan *backend.Job, want backend.Counts) {
		b.t.Helper()
		b.eventually(func() bool { return b.counts() == want },
			"a due delayed job of a paused queue stayed delayed while a claim was blocked")
		select {
		case <-got:
			b.t.Fatal("claimed while paused")
		default:
		}
		pause(b, false)
		select {
		case j := <-got:
			require.NotNil(b.t, j)
			require.Equal(b.t, "soon", j.Name)
		case <-time.After(8 * time.Second):
			b.t.Fatal("resume did not wake the blocked claim")
		}
	}

	t.Run("a paused queue moves due delayed jobs to paused while a claim is blocked", func(t *testing.T) {
		b := setup(t, f)
		pause(b, true)
		got := blocked(b)
		time.Sleep(150 * time.Millisecond) // the claim has seen no delayed job and blocks
		b.add("soon", backend.JobOptions{Delay: 300 * time.Millisecond})
		promotedWhilePaused(b, got, backend.Counts{Paused: 1})
	})

	t.Run("a paused queue moves due delayed jobs to paused after a pause with a wake-up pending", func(t *testing.T) {
		b := setup(t, f)
		b.add("later", backend.JobOptions{Delay: time.Hour}) // no claim takes its wake-up
		pause(b, true)
		got := blocked(b)
		time.Sleep(150 * time.Millisecond) // the claim knows only the job due in an hour
		b.add("soon", backend.JobOptions{Delay: 300 * time.Millisecond})
		promotedWhilePaused(b, got, backend.Counts{Paused: 1, Delayed: 1})
	})

	t.Run("a job released while paused waits for resume", func(t *testing.T) {
		b := setup(t, f)
		b.add("a", backend.JobOptions{})
		j, tok := b.claim()
		pause(b, true)
		require.NoError(t, b.be.JobRelease(b.ctx, &backend.JobReleaseParams{Queue: b.queue, ID: j.ID, Token: tok}))
		require.Equal(t, backend.Counts{Paused: 1}, b.counts())
		none, _ := b.claim()
		require.Nil(t, none)
		pause(b, false)
		again, _ := b.claim()
		require.Equal(t, j.ID, again.ID)
	})
}
