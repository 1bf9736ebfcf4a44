package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/examples/whatsapp/fakegraph"
)

func TestDailySummary(t *testing.T) {
	t.Parallel()
	for _, be := range testBackends {
		t.Run(be, func(t *testing.T) {
			t.Parallel()
			b := setup(t, be, func(c *Config) {
				c.Summary = SummaryConfig{To: "15550009999", PhoneNumberID: "1001", Pattern: "* * * * * *"} // every second
			})
			require.Eventually(t, func() bool {
				return len(summaries(b.fake.Accepted(fakegraph.Send))) >= 2
			}, 15*time.Second, 20*time.Millisecond)
			sent := summaries(b.fake.Accepted(fakegraph.Send))
			seen := map[string]bool{}
			for _, c := range sent {
				require.Equal(t, "1001", c.PhoneNumberID)
				require.Contains(t, c.Text, "\noutbound: ")
				_, _, ok := backend.ParseSchedulerJobID(c.CallbackData)
				require.True(t, ok, "the send's key is the tick's job ID: %q", c.CallbackData)
				require.False(t, seen[c.CallbackData], "one summary per tick")
				seen[c.CallbackData] = true
			}
			s, err := b.app.queues.outbound.Scheduler(context.Background(), summaryScheduler)
			require.NoError(t, err)
			require.Equal(t, "* * * * * *", s.Schedule.Pattern)
		})
	}
}

func summaries(calls []fakegraph.Call) []fakegraph.Call {
	var out []fakegraph.Call
	for _, c := range calls {
		if c.To == "15550009999" && strings.HasPrefix(c.Text, "Daily summary") {
			out = append(out, c)
		}
	}
	return out
}

func TestDailySummaryConfig(t *testing.T) {
	t.Parallel()
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	c, err := loadSummaryConfig(env(nil))
	require.NoError(t, err)
	require.Empty(t, c.To, "off by default")
	_, err = loadSummaryConfig(env(map[string]string{"SUMMARY_TO": "1555"}))
	require.ErrorContains(t, err, "SUMMARY_PHONE_NUMBER_ID")

	cfg := testConfig()
	cfg.APIURL = "http://127.0.0.1:1/v25.0"
	cfg.Summary = SummaryConfig{To: "1555", PhoneNumberID: "1001", Pattern: "0 25 * * *"}
	_, err = newApp(context.Background(), cfg, slog.New(slog.DiscardHandler), nil)
	require.ErrorIs(t, err, fila.ErrInvalid, "a bad SUMMARY_SCHEDULE fails at start")
	require.ErrorContains(t, err, "SUMMARY_SCHEDULE")
}
