package dashboard

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
)

func TestQueuePageShowsSchedulers(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, be func(testing.TB) backend.Backend) {
		b := setup(t, be, Options{})
		out := b.queues[0]
		require.Equal(t, "outbound", out.Name())
		_, body := b.get(t, "queues/outbound")
		require.NotContains(t, body, `<h2 id="schedulers">Schedulers</h2>`, "no section without schedulers")

		ctx := context.Background()
		s, err := out.UpsertScheduler(ctx, "digest<b>", fila.Schedule{Pattern: "0 9 * * *", TZ: "Europe/Paris"}, "digest", nil, nil)
		require.NoError(t, err)
		_, err = out.UpsertScheduler(ctx, "ping", fila.Schedule{Every: time.Minute, Limit: 5}, "ping", nil, nil)
		require.NoError(t, err)
		code, body := b.get(t, "queues/outbound")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, `<h2 id="schedulers">Schedulers</h2>`)
		require.Contains(t, body, "digest&lt;b&gt;")
		require.Contains(t, body, "0 9 * * * (Europe/Paris)")
		require.Contains(t, body, "every 1m0s")
		require.Contains(t, body, "1 of 5")
		require.Contains(t, body, `href="/admin/queues/queues/outbound/jobs/sched:digest%3Cb%3E:`)
		require.Contains(t, body, s.NextJobID[len("sched:digest<b>:"):]+`</a> (delayed)`)
	})
}
