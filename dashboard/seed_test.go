package dashboard

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/memory"
	redisbackend "github.com/fila-go/fila/backend/redis"
)

// xss is an attacker's payload; it must reach the page as text.
const xss = `<script>alert("x")</script><img src=x onerror=alert(1)>`

// seeded is a backend with two queues and jobs in every state.
type seeded struct {
	be     backend.Backend
	queues []*fila.Queue
	ids    map[string]string // job IDs by role: waiting, delayed, ...
}

// backends are the backends the handler tests run on.
var backends = []struct {
	name string
	new  func(t testing.TB) backend.Backend
}{
	{"memory", func(t testing.TB) backend.Backend { return memory.New() }},
	{"miniredis", func(t testing.TB) backend.Backend {
		mr := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		be := redisbackend.New(rdb)
		t.Cleanup(func() {
			_ = be.Close()
			_ = rdb.Close()
		})
		return be
	}},
}

// seed fills be: queue "outbound" with a completed, a failed (XSS in its
// name, data, error and logs), a delayed, a prioritized, an active and a
// waiting job; queue "inbound" paused with one job.
func seed(t testing.TB, be backend.Backend) *seeded {
	t.Helper()
	ctx := context.Background()
	s := &seeded{be: be, ids: map[string]string{}}
	out, in := fila.NewQueue(be, "outbound"), fila.NewQueue(be, "inbound")
	s.queues = []*fila.Queue{out, in}
	add := func(q *fila.Queue, role, name, data string, opts *fila.JobOptions) {
		j, err := q.Add(ctx, name, []byte(data), opts)
		require.NoError(t, err)
		s.ids[role] = j.ID
	}
	claim := func(id string) {
		res, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: "outbound", Token: "tok-" + id, LockDuration: time.Hour})
		require.NoError(t, err)
		require.NotNil(t, res.Job)
		require.Equal(t, id, res.Job.ID)
	}
	add(out, "completed", "send", `{"to":"+15550001"}`, nil)
	claim(s.ids["completed"])
	_, err := be.JobComplete(ctx, &backend.JobCompleteParams{Queue: "outbound", ID: s.ids["completed"], Token: "tok-" + s.ids["completed"], ReturnValue: []byte(`{"wamid":"w.1"}`)})
	require.NoError(t, err)

	add(out, "failed", xss, `{"to":"`+jsonEscape(xss)+`"}`, nil)
	claim(s.ids["failed"])
	_, err = be.JobLogAdd(ctx, &backend.JobLogAddParams{Queue: "outbound", ID: s.ids["failed"], Line: "log " + xss})
	require.NoError(t, err)
	_, err = be.JobFail(ctx, &backend.JobFailParams{Queue: "outbound", ID: s.ids["failed"], Token: "tok-" + s.ids["failed"], Reason: "error " + xss, Stacktrace: "stack " + xss})
	require.NoError(t, err)

	add(out, "active", "send", "\xff\xfe raw bytes", nil)
	claim(s.ids["active"])
	add(out, "delayed", "reminder", `{}`, &fila.JobOptions{Delay: time.Hour})
	add(out, "prioritized", "urgent", `{}`, &fila.JobOptions{Priority: 2})
	add(out, "waiting", "send", `{"to":"+15550006"}`, nil)

	add(in, "paused", "webhook", `{"entry":1}`, nil)
	require.NoError(t, in.Pause(ctx))
	return s
}

func jsonEscape(s string) string {
	r := []rune{}
	for _, c := range s {
		if c == '"' || c == '\\' {
			r = append(r, '\\')
		}
		r = append(r, c)
	}
	return string(r)
}
