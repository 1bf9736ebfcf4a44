package memory

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

// These tests look inside the backend to know a call is really blocked
// before Close, so they prove the wake-up rather than a call made after it.

func TestCloseWakesBlockedCalls(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		call    func(b *Backend) error
		blocked func(q *queue) bool
	}{
		{
			name: "Claim",
			call: func(b *Backend) error {
				_, err := b.JobClaim(context.Background(), &backend.JobClaimParams{Queue: "q", Token: "t", LockDuration: time.Second, Wait: time.Minute})
				return err
			},
			blocked: func(q *queue) bool { return q.ready != nil },
		},
		{
			name: "EventsRead",
			call: func(b *Backend) error {
				_, err := b.EventsRead(context.Background(), &backend.EventsReadParams{Queue: "q", Wait: time.Minute})
				return err
			},
			blocked: func(q *queue) bool { return q.changed != nil },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := New()
			errc := make(chan error, 1)
			go func() { errc <- tt.call(b) }()
			require.Eventually(t, func() bool {
				b.mu.Lock()
				q := b.queues["q"]
				b.mu.Unlock()
				if q == nil {
					return false
				}
				q.mu.Lock()
				defer q.mu.Unlock()
				return tt.blocked(q)
			}, 5*time.Second, time.Millisecond, "the call never blocked")

			require.NoError(t, b.Close())
			select {
			case err := <-errc:
				require.ErrorIs(t, err, backend.ErrClosed)
			case <-time.After(5 * time.Second):
				t.Fatal("the blocked call did not return after Close")
			}
		})
	}
}
