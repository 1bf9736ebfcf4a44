package upstash_test

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/backend/upstash"
)

// Applications may run their own scripts on the Conn (NewBackend,
// redisbackend.NewScript), and a call that changes state is never sent
// twice. Only fila's own read-only scripts are retried after a 5xx, so an
// application script that shares a name with one of them ("events",
// "metrics", "get", "list", ...) must not be sent again: its first try may
// have run.
func TestAppScriptNamedLikeAFilaReadIsNotRetried(t *testing.T) {
	t.Parallel()
	b := miniBundle(t)
	conn, err := upstash.NewConn(b.config())
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })

	// An application's audit trail: appends one entry per call.
	appendEvent := redisbackend.NewScript("events", `return redis.call('RPUSH', KEYS[1], ARGV[1])`)
	_, err = conn.Eval(ctx, appendEvent, []string{"app:audit"}, "warm") // the server now has the script
	require.NoError(t, err)

	var n atomic.Int64
	b.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if n.Add(1) == 1 {
			forward(next, r) // the append runs; the client is told it failed
			respond(w, 502, `bad gateway`)
			return
		}
		next.ServeHTTP(w, r)
	})
	_, err = conn.Eval(ctx, appendEvent, []string{"app:audit"}, "order 42 paid")
	entries, lerr := b.rdb.LRange(ctx, "app:audit", 1, -1).Result()
	require.NoError(t, lerr)
	require.Equal(t, []string{"order 42 paid"}, entries, "the write ran %d times", len(entries))
	require.Error(t, err, "the caller must learn that the outcome is unknown")
	require.EqualValues(t, 1, n.Load(), "no second request")
}
