package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
)

// The daily summary: a fila job scheduler on the outbound queue sends the
// operator a WhatsApp message with the queues' figures at a cron time, so
// it goes through the outbound queue's retries and global rate limit like
// every other send. Every worker process upserts the scheduler at start-up
// (the same spec is a no-op); each tick's job has a deterministic ID, which
// is also the send's idempotency key, so one tick sends one summary
// however many processes run.
const (
	summaryScheduler = "daily-summary"
	jobSummary       = "summary" // outbound: send the daily summary
)

// SummaryConfig is the daily summary's configuration; To empty turns it off.
type SummaryConfig struct {
	To            string // SUMMARY_TO: the operator's WhatsApp ID
	PhoneNumberID string // SUMMARY_PHONE_NUMBER_ID: the business number it is sent from
	Pattern       string // SUMMARY_SCHEDULE: a cron pattern; default "0 18 * * *"
	TZ            string // SUMMARY_TZ: the pattern's IANA time zone; default UTC
}

const summaryEnvHelp = `  SUMMARY_TO             send a daily summary of the queues to this WhatsApp ID (worker role), from
                         SUMMARY_PHONE_NUMBER_ID, at SUMMARY_SCHEDULE (cron, default "0 18 * * *") in SUMMARY_TZ
`

func loadSummaryConfig(getenv func(string) string) (SummaryConfig, error) {
	c := SummaryConfig{To: getenv("SUMMARY_TO"), PhoneNumberID: getenv("SUMMARY_PHONE_NUMBER_ID"),
		Pattern: orDefault(getenv("SUMMARY_SCHEDULE"), "0 18 * * *"), TZ: getenv("SUMMARY_TZ")}
	if c.To != "" && c.PhoneNumberID == "" {
		return c, errors.New("config: SUMMARY_TO is set but SUMMARY_PHONE_NUMBER_ID is not: the summary needs the business number to send from")
	}
	return c, nil
}

// scheduleSummary upserts the summary's scheduler, or removes it when the
// summary is off. A bad SUMMARY_SCHEDULE or SUMMARY_TZ fails here, naming
// the field.
func (a *App) scheduleSummary(ctx context.Context) error {
	s := a.cfg.Summary
	if s.To == "" {
		_, err := a.queues.outbound.RemoveScheduler(ctx, summaryScheduler)
		if errors.Is(err, backend.ErrUnsupported) {
			return nil
		}
		return err
	}
	_, err := fila.UpsertSchedulerJSON(ctx, a.queues.outbound, summaryScheduler, fila.Schedule{Pattern: s.Pattern, TZ: s.TZ},
		jobSummary, OutboundJob{PhoneNumberID: s.PhoneNumberID, To: s.To}, nil)
	if err != nil {
		return fmt.Errorf("daily summary (SUMMARY_SCHEDULE %q, SUMMARY_TZ %q): %w", s.Pattern, s.TZ, err)
	}
	return nil
}

// summaryText reports each queue's jobs finished in the last hour and
// those waiting or failed now.
func summaryText(ctx context.Context, qs *queues) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "Daily summary, %s UTC", time.Now().UTC().Format("2006-01-02 15:04"))
	for _, q := range qs.all() {
		m, err := q.Metrics(ctx, 60)
		if err != nil {
			return "", err
		}
		var done, failed int64
		for i := range m.CompletedPerMinute {
			done += m.CompletedPerMinute[i]
			failed += m.FailedPerMinute[i]
		}
		c := m.Counts
		fmt.Fprintf(&b, "\n%s: %d done and %d failed in the last hour; %d waiting, %d failed kept",
			q.Name(), done, failed, c.Waiting+c.Prioritized+c.Paused+c.Delayed, c.Failed)
	}
	return b.String(), nil
}
