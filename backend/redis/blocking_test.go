package redisbackend

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/internal/redistest"
)

// A blocking call whose context ends while its blocker is still connecting
// (a fresh blocker: the first BLMOVE of a worker, or the first after a
// dropped one) must still end promptly: an interrupt can only end a
// command on a connection it knows, so the blocker connects first, and a
// call cancelled meanwhile never sends its BLMOVE (which would block for
// its whole timeout, and Worker.Close wait up to 30s for an idle worker).
func TestBlockCancelledWhileConnectingEndsAtOnce(t *testing.T) {
	srv := redistest.Start(t)
	dialing := make(chan struct{}, 10)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Protocol: 2,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dialing <- struct{}{}
			select { // a slow network, or a TLS handshake
			case <-time.After(200 * time.Millisecond):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}})
	t.Cleanup(func() { _ = rdb.Close() })
	be := New(rdb)
	t.Cleanup(func() { _ = be.Close() })

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := be.blocker.BLMove(ctx, "fila:{q}:wait", "fila:{q}:active", 30*time.Second)
		done <- err
	}()
	<-dialing // the blocker is connecting
	cancel()
	start := time.Now()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
		// Generous for a loaded machine, well under the 30s block.
		require.Less(t, time.Since(start), 10*time.Second)
	case <-time.After(20 * time.Second):
		t.Fatal("BLMOVE did not end")
	}
	t.Logf("BLMOVE ended %s after its context", time.Since(start))
}
