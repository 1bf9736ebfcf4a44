package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
	"github.com/fila-go/fila/examples/whatsapp/fakegraph"
)

// 131056 is the *pair* rate limit: too many messages to one user.
// whatsapp.md B6: "Per-recipient queue; Meta says wait and retry, and you
// can still message *other* numbers"; B8: "On 131056, delay per recipient
// (at least 6 s) and retry." A pair limit hit for user A must not hold back
// the reply to user B.
func TestPairRateLimitHoldsBackOnlyItsUser(t *testing.T) {
	t.Parallel()
	b := setup(t, "memory")
	b.fake.Script(fakegraph.Send, fakegraph.PairRateLimit())

	b.postText("wamid.pair.a", "hours?") // user A: its send is answered 131056
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, b.fake.Wait(ctx, func(calls []fakegraph.Call) bool {
		return len(fakegraph.Filter(calls, fakegraph.Send, false)) >= 1
	}))
	limitedAt := time.Now()

	other := inbound("wamid.pair.b")
	other.From, other.Name = "16505550000", "Other User"
	require.Equal(t, http.StatusOK, b.post(mustJSON(t, cloudapi.TextNotification(other, "hours?"))))
	require.NoError(t, b.fake.Wait(ctx, func(calls []fakegraph.Call) bool {
		for _, c := range calls {
			if c.Kind == fakegraph.Send && c.OK() && c.To == other.From {
				return true
			}
		}
		return false
	}))
	// User A's reply is still sent, once, after waiting at least 6s.
	require.NoError(t, b.fake.Wait(ctx, func(calls []fakegraph.Call) bool {
		for _, c := range calls {
			if c.Kind == fakegraph.Send && c.OK() && c.To == testUser {
				return true
			}
		}
		return false
	}))
	var okA []fakegraph.Call
	for _, c := range b.fake.Accepted(fakegraph.Send) {
		if c.To == testUser {
			okA = append(okA, c)
		}
	}
	require.Len(t, okA, 1)
	require.GreaterOrEqual(t, okA[0].At.Sub(limitedAt), 5*time.Second, "A waited out its pair limit")
	// By order, not elapsed time: B's reply did not wait behind A's limit.
	for _, c := range b.fake.Accepted(fakegraph.Send) {
		if c.To == other.From {
			require.True(t, c.At.Before(okA[0].At), "user B's reply waited behind user A's pair rate limit")
		}
	}
}
