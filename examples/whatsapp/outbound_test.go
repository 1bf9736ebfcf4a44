package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
	"github.com/fila-go/fila/examples/whatsapp/fakegraph"
)

func TestOutboundFailures(t *testing.T) {
	t.Parallel()
	for _, be := range testBackends {
		t.Run(be, func(t *testing.T) {
			t.Parallel()

			t.Run("two 500s then success: sent once, after exponential backoff", func(t *testing.T) {
				t.Parallel()
				b := setup(t, be)
				b.fake.Script(fakegraph.Send, fakegraph.ServerError(), fakegraph.ServerError())
				b.postText("wamid.retry.1", "hours?")
				b.waitAccepted(fakegraph.Send, 1)
				b.waitIdle()

				calls := fakegraph.Filter(b.fake.Calls(), fakegraph.Send, false)
				require.Len(t, calls, 3)
				require.Equal(t, []int{500, 500, 200}, []int{calls[0].Status, calls[1].Status, calls[2].Status})
				base := b.cfg.Queues.Outbound.Job.Backoff.Delay
				require.GreaterOrEqual(t, calls[1].At.Sub(calls[0].At), base, "first retry after Delay")
				require.GreaterOrEqual(t, calls[2].At.Sub(calls[1].At), 2*base, "second retry after 2 x Delay")
				require.Len(t, b.fake.Accepted(fakegraph.Send), 1)

				job, err := b.app.queues.outbound.GetJob(context.Background(), sendKey("wamid.retry.1"))
				require.NoError(t, err)
				require.Equal(t, fila.StateCompleted, job.State)
				require.Equal(t, 3, job.AttemptsMade)
			})

			t.Run("a 400 fails the job at once, visible in the failed count", func(t *testing.T) {
				t.Parallel()
				b := setup(t, be)
				b.fake.Script(fakegraph.Send, fakegraph.InvalidParameter())
				b.postText("wamid.fail.1", "hours?")
				require.Eventually(t, func() bool { return b.counts()[queueOutbound].Failed == 1 }, 10*time.Second, 10*time.Millisecond)
				time.Sleep(3 * b.cfg.Queues.Outbound.Job.Backoff.Delay) // a retry would have come by now
				b.waitIdle()

				require.Len(t, fakegraph.Filter(b.fake.Calls(), fakegraph.Send, false), 1, "no retry")
				job, err := b.app.queues.outbound.GetJob(context.Background(), sendKey("wamid.fail.1"))
				require.NoError(t, err)
				require.Equal(t, fila.StateFailed, job.State)
				require.Equal(t, 1, job.AttemptsMade)
				require.Contains(t, job.FailedReason, "HTTP 400, code 100")
				require.Equal(t, int64(1), b.counts()[queueOutbound].Completed, "the read receipt went out")
			})

			t.Run("a throughput error pauses outbound claims, then they resume and nothing is lost", func(t *testing.T) {
				t.Parallel()
				b := setup(t, be)
				b.fake.Script(fakegraph.Send, fakegraph.Throughput())
				sub, err := b.app.queues.outbound.Subscribe(context.Background())
				require.NoError(t, err)
				defer sub.Close()
				const n = 6
				for i := range n {
					b.postText(fmt.Sprintf("wamid.tp.%d", i), "hours?")
				}
				b.waitAccepted(fakegraph.Send, n)
				b.waitAccepted(fakegraph.Read, n)
				b.waitIdle()

				calls := b.fake.Calls()
				i := slices.IndexFunc(calls, func(c fakegraph.Call) bool { return c.Code == cloudapi.CodeThroughput })
				require.GreaterOrEqual(t, i, 0)
				limitedAt := calls[i].At
				// No claim during the pause, judged on the backend's clock by
				// the order of the queue's events, not by when calls reach the
				// fake: a call claimed before the pause began may reach it
				// hundreds of ms later on a loaded machine. Every claim after
				// the limited job went back came at least 2s after that job's
				// first claim (which precedes the pause's start).
				evs := collectEvents(t, sub, func(evs []fila.Event) bool { return countType(evs, fila.EventCompleted) == 2*n })
				limitedID := sendKey(calls[i].ReplyTo)
				released := slices.IndexFunc(evs, func(ev fila.Event) bool { return ev.Type == fila.EventReleased && ev.JobID == limitedID })
				require.GreaterOrEqual(t, released, 0, "the rate-limited job went back: %+v", evs)
				first := slices.IndexFunc(evs, func(ev fila.Event) bool { return ev.Type == fila.EventActive && ev.JobID == limitedID })
				require.GreaterOrEqual(t, first, 0)
				resumed := 0
				for _, ev := range evs[released+1:] {
					if ev.Type == fila.EventActive {
						resumed++
						require.GreaterOrEqual(t, ev.Time.Sub(evs[first].Time), 2*time.Second, "job %s claimed during the pause", ev.JobID)
					}
				}
				require.Positive(t, resumed, "claims resumed after the pause")
				require.Greater(t, calls[len(calls)-1].At.Sub(limitedAt), 2*time.Second, "claims resumed after the pause")
				requireOncePerMessage(t, b.fake.Accepted(fakegraph.Send), n)
				require.Len(t, b.fake.Accepted(fakegraph.Read), n)
				c := b.counts()[queueOutbound]
				require.Equal(t, int64(2*n), c.Completed)
				require.Zero(t, c.Failed)

				limited, err := b.app.queues.outbound.GetJob(context.Background(), sendKey(calls[i].ReplyTo))
				require.NoError(t, err)
				require.Equal(t, 1, limited.AttemptsMade, "the rate-limited attempt was not spent")
				require.GreaterOrEqual(t, limited.ProcessedAt.Sub(limitedAt), 2*time.Second-5*time.Millisecond,
					"claimed again only after the pause (backend clock, ms precision)")
			})

			t.Run("a 429 with Retry-After pauses outbound for that long", func(t *testing.T) {
				t.Parallel()
				b := setup(t, be)
				b.fake.Script(fakegraph.Send, fakegraph.TooManyRequests(time.Second))
				b.postText("wamid.429.1", "hours?")
				b.waitAccepted(fakegraph.Send, 1)
				b.waitIdle()
				calls := fakegraph.Filter(b.fake.Calls(), fakegraph.Send, false)
				require.Len(t, calls, 2)
				require.Equal(t, http.StatusTooManyRequests, calls[0].Status)
				require.GreaterOrEqual(t, calls[1].At.Sub(calls[0].At), time.Second)
			})
		})
	}
}

// collectEvents reads sub until done says the events so far are enough.
func collectEvents(t *testing.T, sub *fila.Subscription, done func([]fila.Event) bool) []fila.Event {
	t.Helper()
	var evs []fila.Event
	timeout := time.After(20 * time.Second)
	for !done(evs) {
		select {
		case ev, ok := <-sub.C:
			require.True(t, ok, "subscription ended early: %v", sub.Err())
			evs = append(evs, ev)
		case <-timeout:
			t.Fatalf("events so far: %+v", evs)
		}
	}
	return evs
}

// countType counts the events of type typ.
func countType(evs []fila.Event, typ fila.EventType) int {
	n := 0
	for _, ev := range evs {
		if ev.Type == typ {
			n++
		}
	}
	return n
}

func TestRepliesDueAtOnceAreSentAtMostTenPerSecond(t *testing.T) {
	t.Parallel()
	for _, be := range testBackends {
		t.Run(be, func(t *testing.T) {
			t.Parallel()
			b := setup(t, be)
			const n = 50
			jobs := make([]fila.BulkJob, n)
			for i := range jobs {
				key := sendKey(fmt.Sprintf("wamid.burst.%d", i))
				jobs[i] = fila.BulkJob{Name: jobSend, Data: mustJSON(t, OutboundJob{
					PhoneNumberID: testPhoneNumberID, To: testUser, Text: "burst", ReplyTo: key,
				}), Options: &fila.JobOptions{JobID: key}}
			}
			_, err := b.app.queues.outbound.AddBulk(context.Background(), jobs)
			require.NoError(t, err)
			b.waitAccepted(fakegraph.Send, n)

			// Exact: the claims, timed by the backend's clock (the limiter's),
			// never exceed 10 in any 1s window.
			var claimed []time.Time
			for _, j := range jobs {
				job, err := b.app.queues.outbound.GetJob(context.Background(), j.Options.JobID)
				require.NoError(t, err)
				claimed = append(claimed, job.ProcessedAt)
			}
			requireAtMostPerWindow(t, claimed, 10, time.Second)
			// The rate, on the same clock: 50 claims at 10/s span at least 4s.
			// (Not judged at the fake: on a loaded machine the time from a
			// claim to its call's arrival varies by hundreds of ms.)
			slices.SortFunc(claimed, time.Time.Compare)
			require.GreaterOrEqual(t, claimed[n-1].Sub(claimed[0]), 4*time.Second, "50 sends at 10/s span at least 4s")
			requireOncePerMessage(t, b.fake.Accepted(fakegraph.Send), n)
		})
	}
}

func TestJobErrorPolicy(t *testing.T) {
	t.Parallel()
	apiErr := func(status, code int, retryAfter time.Duration) error {
		return fmt.Errorf("wrapped: %w", &cloudapi.APIError{Op: "send text", HTTPStatus: status, Code: code, RetryAfter: retryAfter})
	}
	rateLimited := func(t *testing.T, err error) time.Duration {
		t.Helper()
		var rl *fila.RateLimitError
		ok := errors.As(err, &rl)
		require.True(t, ok, "want fila.RateLimited, got %v", err)
		return rl.Delay
	}
	cases := []struct {
		name string
		err  error
		want string // "retry", "unrecoverable" or a rate-limit duration
	}{
		{"a network error is retried", errors.New("dial tcp: connection refused"), "retry"},
		{"a 500 is retried", apiErr(500, cloudapi.CodeSomethingWentWrong, 0), "retry"},
		{"a 503 without a code is retried", apiErr(503, 0, 0), "retry"},
		{"Meta's temporary code 2 is retried even as a 400", apiErr(400, cloudapi.CodeTemporaryService, 0), "retry"},
		{"a 400 invalid parameter is unrecoverable", apiErr(400, 100, 0), "unrecoverable"},
		{"outside the 24-hour window is unrecoverable", apiErr(400, cloudapi.CodeReengagement, 0), "unrecoverable"},
		{"an invalid token is unrecoverable", apiErr(401, cloudapi.CodeAccessToken, 0), "unrecoverable"},
		{"130429 pauses for 2s", apiErr(400, cloudapi.CodeThroughput, 0), "2s"},
		{"131056 retries the job alone", apiErr(429, cloudapi.CodePairRateLimit, 0), "retry"},
		{"80007 pauses for a minute", apiErr(400, cloudapi.CodeWABARateLimit, 0), "1m0s"},
		{"code 4 pauses for a minute", apiErr(400, cloudapi.CodeAppRateLimit, 0), "1m0s"},
		{"a bare 429 pauses for 5s", apiErr(429, 0, 0), "5s"},
		{"Retry-After wins over the default", apiErr(429, 0, 17*time.Second), "17s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := jobError(c.err)
			require.ErrorIs(t, got, c.err)
			switch c.want {
			case "retry":
				require.False(t, fila.IsUnrecoverable(got))
				limited := errors.As(got, new(*fila.RateLimitError))
				require.False(t, limited)
			case "unrecoverable":
				require.True(t, fila.IsUnrecoverable(got))
			default:
				require.False(t, fila.IsUnrecoverable(got))
				require.Equal(t, c.want, rateLimited(t, got).String())
			}
		})
	}
}

// requireAtMostPerWindow checks that no window of length w starting at one
// of the times holds more than max of them.
func requireAtMostPerWindow(t *testing.T, times []time.Time, max int, w time.Duration) {
	t.Helper()
	times = slices.Clone(times)
	slices.SortFunc(times, time.Time.Compare)
	for i, start := range times {
		in := 0
		for _, u := range times[i:] {
			if u.Sub(start) < w {
				in++
			}
		}
		require.LessOrEqual(t, in, max, "%d in the %s from #%d (%s)", in, w, i, start.Format("15:04:05.000"))
	}
}

// requireOncePerMessage checks that each of n inbound messages got exactly
// one reply.
func requireOncePerMessage(t *testing.T, sends []fakegraph.Call, n int) {
	t.Helper()
	seen := map[string]int{}
	for _, s := range sends {
		seen[s.ReplyTo]++
	}
	require.Len(t, seen, n, "replies: %v", seen)
	for id, k := range seen {
		require.Equal(t, 1, k, "replies to %s", id)
	}
}
