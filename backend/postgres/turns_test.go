package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/postgres"
)

// turnWatch counts the calls inside a claim turn and can hold them there.
type turnWatch struct {
	hold    atomic.Bool   // entering calls wait for release while set
	release chan struct{} // closed to let the held calls go on
	inside  atomic.Int64  // calls in a turn now
	most    atomic.Int64  // the most ever in a turn at once
	entered atomic.Int64  // turns taken
}

func watchTurns(be *postgres.Backend) *turnWatch {
	w := &turnWatch{release: make(chan struct{})}
	postgres.OnTurn(be, func() func() {
		n := w.inside.Add(1)
		for m := w.most.Load(); n > m && !w.most.CompareAndSwap(m, n); m = w.most.Load() {
		}
		w.entered.Add(1)
		if w.hold.Load() {
			<-w.release
		}
		return func() { w.inside.Add(-1) }
	})
	return w
}

func addJobs(t *testing.T, be *postgres.Backend, queue string, n int) {
	t.Helper()
	items := make([]backend.JobAddItem, n)
	for i := range items {
		items[i] = backend.JobAddItem{Name: fmt.Sprint(i)}
	}
	_, err := be.JobAdd(context.Background(), &backend.JobAddParams{Queue: queue, Jobs: items})
	require.NoError(t, err)
}

func claimOf(queue, token string) *backend.JobClaimParams {
	return &backend.JobClaimParams{Queue: queue, Token: token, LockDuration: time.Minute}
}

// At most ClaimConcurrency claims are in a turn at once, whichever call
// claims: JobClaim, or JobComplete and JobFail claiming the next job. The
// others wait for a turn, and all go on when the turns are given back.
func TestClaimConcurrencyBoundsClaims(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		opt, want int
	}{
		{"ClaimConcurrency 2", 2, 2},
		{"the default is 8", 0, 8},
		{"a negative value means the default", -3, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			be := open(t, postgres.Options{ClaimConcurrency: tc.opt})
			require.Equal(t, tc.want, postgres.ClaimTurns(be))
			w := watchTurns(be)
			const q = "turns"
			addJobs(t, be, q, tc.want+20)
			// Four jobs claimed ahead, for the completes and fails below.
			held := make([]*backend.Job, 4)
			for i := range held {
				r, err := be.JobClaim(ctx, claimOf(q, fmt.Sprint("held", i)))
				require.NoError(t, err)
				require.NotNil(t, r.Job)
				held[i] = r.Job
			}
			w.hold.Store(true)
			extra := 6 // calls beyond the turns: they must wait
			calls := tc.want + extra
			results := make(chan *backend.JobClaimResult, calls)
			errs := make(chan error, calls)
			var wg sync.WaitGroup
			for i := range calls {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var r *backend.JobClaimResult
					var err error
					next := claimOf(q, fmt.Sprint("next", i))
					switch i {
					case 0, 1:
						r, err = be.JobComplete(ctx, &backend.JobCompleteParams{Queue: q, ID: held[i].ID, Token: fmt.Sprint("held", i),
							Retention: backend.Retention{Remove: true}, Next: next})
					case 2, 3:
						r, err = be.JobFail(ctx, &backend.JobFailParams{Queue: q, ID: held[i].ID, Token: fmt.Sprint("held", i),
							Reason: "boom", Next: next})
					default:
						r, err = be.JobClaim(ctx, next)
					}
					results <- r
					errs <- err
				}()
			}
			require.Eventually(t, func() bool {
				return w.entered.Load() == int64(tc.want)+4 && postgres.WaitingForTurn(be) == extra
			}, 30*time.Second, 5*time.Millisecond, "the turns filled and the other calls waited")
			require.Equal(t, int64(tc.want), w.inside.Load())
			close(w.release)
			wg.Wait()
			close(results)
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			for r := range results {
				require.NotNil(t, r.Job, "every call claimed a job")
			}
			require.Equal(t, int64(tc.want), w.most.Load(), "never more than the turns at once")
			require.Equal(t, 0, postgres.WaitingForTurn(be))
		})
	}
}

// A call waiting for a turn returns at once when its context ends or the
// backend closes, and a blocked claim gives its turn back while it waits
// for a job.
func TestClaimTurnWaits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("a waiting claim returns when its context ends, and a waiting complete when the backend closes", func(t *testing.T) {
		t.Parallel()
		be := open(t, postgres.Options{ClaimConcurrency: 1})
		w := watchTurns(be)
		w.hold.Store(true)
		holder := make(chan error, 1)
		go func() {
			_, err := be.JobClaim(ctx, claimOf("empty", "holder"))
			holder <- err
		}()
		require.Eventually(t, func() bool { return w.inside.Load() == 1 }, 30*time.Second, 5*time.Millisecond)

		cctx, cancel := context.WithCancel(ctx)
		claimErr := make(chan error, 1)
		go func() {
			_, err := be.JobClaim(cctx, &backend.JobClaimParams{Queue: "empty", Token: "waiter", LockDuration: time.Minute, Wait: time.Hour})
			claimErr <- err
		}()
		require.Eventually(t, func() bool { return postgres.WaitingForTurn(be) == 1 }, 30*time.Second, 5*time.Millisecond)
		cancel()
		select {
		case err := <-claimErr:
			require.ErrorIs(t, err, context.Canceled)
		case <-time.After(20 * time.Second):
			t.Fatal("the claim waiting for a turn did not return on cancel")
		}
		require.Equal(t, 0, postgres.WaitingForTurn(be))

		completeErr := make(chan error, 1)
		go func() {
			_, err := be.JobComplete(ctx, &backend.JobCompleteParams{Queue: "empty", ID: "none", Token: "t", Next: claimOf("empty", "next")})
			completeErr <- err
		}()
		require.Eventually(t, func() bool { return postgres.WaitingForTurn(be) == 1 }, 30*time.Second, 5*time.Millisecond)
		require.NoError(t, be.Close())
		select {
		case err := <-completeErr:
			require.ErrorIs(t, err, backend.ErrClosed)
		case <-time.After(20 * time.Second):
			t.Fatal("the complete waiting for a turn did not return on Close")
		}
		close(w.release)
		require.ErrorIs(t, <-holder, backend.ErrClosed)
		require.Equal(t, int64(1), w.most.Load())
	})

	t.Run("a blocked claim holds no turn while it waits for a job", func(t *testing.T) {
		t.Parallel()
		be := open(t, postgres.Options{ClaimConcurrency: 1, FallbackRecheck: time.Hour})
		w := watchTurns(be)
		bctx, cancel := context.WithCancel(ctx)
		blocked := make(chan error, 1)
		go func() {
			_, err := be.JobClaim(bctx, &backend.JobClaimParams{Queue: "idle", Token: "blocked", LockDuration: time.Minute, Wait: time.Hour})
			blocked <- err
		}()
		// It looked (again when its listener connected), found nothing,
		// and gave its turn back.
		require.Eventually(t, func() bool { return w.entered.Load() >= 1 && w.inside.Load() == 0 }, 30*time.Second, 5*time.Millisecond)
		addJobs(t, be, "busy", 1)
		got := make(chan *backend.JobClaimResult, 1)
		go func() {
			r, err := be.JobClaim(ctx, claimOf("busy", "other"))
			if err != nil {
				r = nil
			}
			got <- r
		}()
		select {
		case r := <-got:
			require.NotNil(t, r)
			require.NotNil(t, r.Job)
		case <-time.After(20 * time.Second):
			t.Fatal("the blocked claim kept its turn: another queue's claim could not run")
		}
		cancel()
		require.ErrorIs(t, <-blocked, context.Canceled)
	})
}
