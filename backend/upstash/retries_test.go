package upstash_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/upstash"
)

func TestRetries(t *testing.T) {
	t.Parallel()

	t.Run("a read is retried after 5xx answers", func(t *testing.T) {
		t.Parallel()
		b := miniBundle(t)
		be := newBackend(t, b.config())
		warm(t, be)
		var n atomic.Int64
		b.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			if n.Add(1) <= 2 {
				respond(w, 503, `{"error":"unavailable"}`)
				return
			}
			next.ServeHTTP(w, r)
		})
		require.Zero(t, waiting(t, be, "q"))
		require.EqualValues(t, 3, n.Load())
	})

	// Reads are recognized by script name: a renamed script would silently
	// lose its retries, so every operation is checked here.
	t.Run("every read operation is retried and no write is", func(t *testing.T) {
		t.Parallel()
		b := miniBundle(t)
		be := newBackend(t, b.config())
		warm(t, be)
		ids := addJobs(t, be, "q", []byte("a"), []byte("b"))
		q := &backend.QueueParams{Queue: "q"}
		reads := map[string]func() error{
			"JobGet": func() error { _, err := be.JobGet(ctx, &backend.JobGetParams{Queue: "q", ID: ids[0]}); return err },
			"JobList": func() error {
				_, err := be.JobList(ctx, &backend.JobListParams{Queue: "q", State: backend.StateWaiting})
				return err
			},
			"JobLogs":      func() error { _, _, err := be.JobLogs(ctx, &backend.JobLogsParams{Queue: "q", ID: ids[0]}); return err },
			"QueueCounts":  func() error { _, err := be.QueueCounts(ctx, q); return err },
			"QueueInfo":    func() error { _, err := be.QueueInfo(ctx, q); return err },
			"QueueList":    func() error { _, err := be.QueueList(ctx); return err },
			"QueueMetrics": func() error { _, err := be.QueueMetrics(ctx, &backend.QueueMetricsParams{Queue: "q"}); return err },
			"EventsCursor": func() error { _, err := be.EventsCursor(ctx, q); return err },
			"EventsRead": func() error {
				_, err := be.EventsRead(ctx, &backend.EventsReadParams{Queue: "q", After: "0-0"})
				return err
			},
			"Ping": func() error { return be.Ping(ctx) },
		}
		writes := map[string]func() error{
			"JobAdd": func() error {
				_, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: "q", Jobs: []backend.JobAddItem{{Name: "w"}}})
				return err
			},
			"JobClaim": func() error {
				_, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: "q", Token: "t", LockDuration: time.Minute})
				return err
			},
			"JobComplete": func() error {
				_, err := be.JobComplete(ctx, &backend.JobCompleteParams{Queue: "q", ID: ids[0], Token: "t"})
				return err
			},
			"JobLogAdd": func() error {
				_, err := be.JobLogAdd(ctx, &backend.JobLogAddParams{Queue: "q", ID: ids[0], Line: "l"})
				return err
			},
			"QueuePause": func() error { return be.QueuePause(ctx, &backend.QueuePauseParams{Queue: "q", Paused: true}) },
			"StalledCheck": func() error {
				_, err := be.StalledCheck(ctx, &backend.StalledCheckParams{Queue: "q", Interval: time.Millisecond})
				return err
			},
		}
		var failNext atomic.Bool
		var requests atomic.Int64
		b.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			requests.Add(1)
			if failNext.CompareAndSwap(true, false) {
				respond(w, 503, `{"error":"unavailable"}`)
				return
			}
			next.ServeHTTP(w, r)
		})
		for name, op := range reads {
			require.NoError(t, op(), "%s warms up", name)
			failNext.Store(true)
			requests.Store(0)
			require.NoError(t, op(), "%s is retried", name)
			require.EqualValues(t, 2, requests.Load(), name)
		}
		for name, op := range writes {
			failNext.Store(true)
			requests.Store(0)
			require.Error(t, op(), "%s is not retried", name)
			require.EqualValues(t, 1, requests.Load(), name)
		}
	})

	t.Run("a read gives up after Retries", func(t *testing.T) {
		t.Parallel()
		b := miniBundle(t)
		var n atomic.Int64
		b.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			n.Add(1)
			respond(w, 500, `{"error":"ERR internal"}`)
		})
		cfg := b.config()
		cfg.Retries = 2
		be := newBackend(t, cfg)
		_, err := be.JobGet(ctx, &backend.JobGetParams{Queue: "q", ID: "1"})
		var e *upstash.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, 500, e.Status)
		require.Equal(t, "EVALSHA get", e.Command)
		require.EqualValues(t, 3, n.Load())
	})

	t.Run("a write that ran is not sent again after a 5xx answer", func(t *testing.T) {
		t.Parallel()
		b := miniBundle(t)
		be := newBackend(t, b.config())
		warm(t, be)
		var n atomic.Int64
		b.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			if n.Add(1) == 1 {
				forward(next, r) // the add runs; the client is told it failed
				respond(w, 502, `bad gateway`)
				return
			}
			next.ServeHTTP(w, r)
		})
		_, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: "q", Jobs: []backend.JobAddItem{{Name: "once", Options: backend.JobOptions{Attempts: 1}}}})
		var e *upstash.Error
		require.ErrorAs(t, err, &e)
		require.Equal(t, 502, e.Status)
		require.EqualValues(t, 1, n.Load(), "no second request")
		require.EqualValues(t, 1, waiting(t, be, "q"), "the job was added once")
	})

	t.Run("a read is retried after a dropped connection", func(t *testing.T) {
		t.Parallel()
		b := miniBundle(t)
		be := newBackend(t, b.config())
		warm(t, be)
		var n atomic.Int64
		b.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			if n.Add(1) == 1 {
				dropConn(t, w)
				return
			}
			next.ServeHTTP(w, r)
		})
		require.Zero(t, waiting(t, be, "q"))
		require.EqualValues(t, 2, n.Load())
	})

	t.Run("a write whose connection dropped reports an unknown outcome", func(t *testing.T) {
		t.Parallel()
		b := miniBundle(t)
		be := newBackend(t, b.config())
		warm(t, be)
		var n atomic.Int64
		b.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			if n.Add(1) == 1 {
				forward(next, r)
				dropConn(t, w)
				return
			}
			next.ServeHTTP(w, r)
		})
		_, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: "q", Jobs: []backend.JobAddItem{{Name: "once", Options: backend.JobOptions{Attempts: 1}}}})
		require.ErrorContains(t, err, "outcome unknown")
		require.EqualValues(t, 1, n.Load())
		require.EqualValues(t, 1, waiting(t, be, "q"))
	})

	t.Run("a write is retried when its connection could not be opened", func(t *testing.T) {
		t.Parallel()
		b := miniBundle(t)
		var dials atomic.Int64
		tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if dials.Add(1) <= 2 {
				return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
			}
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}}
		t.Cleanup(tr.CloseIdleConnections)
		cfg := b.config()
		cfg.HTTPClient = &http.Client{Transport: tr}
		be := newBackend(t, cfg)
		addJobs(t, be, "q", []byte("x"))
		require.EqualValues(t, 3, dials.Load())
		require.EqualValues(t, 1, waiting(t, be, "q"))
	})
}
