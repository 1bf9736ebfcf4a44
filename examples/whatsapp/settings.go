package main

import (
	"time"

	"github.com/fila-go/fila"
)

// Queue names. Every process of a deployment must agree on them.
const (
	queueInbound  = "inbound"
	queueReply    = "reply"
	queueOutbound = "outbound"
	queueStatus   = "status"
	queueMedia    = "media"
)

// Job names.
const (
	jobMessage = "message" // inbound: one inbound message
	jobReply   = "reply"   // reply: compute the answer to a message
	jobSend    = "send"    // outbound: send a text
	jobRead    = "read"    // outbound: mark a message read
	jobStatus  = "status"  // status: one delivery receipt
	jobMedia   = "media"   // media: look up a media file, then reply
)

// dedupTTL is how long an inbound message or status is remembered after
// it was first enqueued: Meta retries a delivery for up to 7 days, so a
// retry never produces a second reply, even after its job was removed.
const dedupTTL = 8 * 24 * time.Hour

// QueueSettings are one queue's settings: the defaults of every job added
// to it and the options of its workers. Logger and ShutdownTimeout are set
// by the app.
type QueueSettings struct {
	Job    fila.JobOptions
	Worker fila.WorkerOptions
	// Groups, when set, are the queue's group options (stored with the
	// queue at start): the app groups the queue's jobs by customer.
	Groups *fila.GroupOptions
}

// pairInterval is WhatsApp's pair rate limit: about one message per 6s
// from a business number to the same user (error 131056).
const pairInterval = 6 * time.Second

// Settings are the five queues' settings.
type Settings struct {
	Inbound, Reply, Outbound, Status, Media QueueSettings
}

// DefaultSettings returns the production settings, with outbound Graph API
// calls limited to perSecond across every process.
//
//	queue     concurrency  attempts  backoff (exponential)  limit         timeout
//	inbound   10           5         500ms                  -             30s
//	reply     5            3         1s                     -             60s (room for an AI model)
//	outbound  5            5         2s (6s+ on 131056)     perSecond/s   30s
//	status    5            5         500ms                  -             30s
//	media     3            3         2s                     5/s           60s
//
// Groups: inbound and reply jobs are grouped by the customer's wa_id with
// group concurrency 1, so one customer's messages are handled, and
// answered, in order, while customers are served round-robin; outbound
// sends are grouped by recipient with concurrency 1 and one start per
// pairInterval, WhatsApp's pair rate limit, so one chatty customer never
// holds back the replies to others. Read receipts are not grouped (they
// are no message to the user).
//
// Finished jobs are kept for inspection, bounded: completed ones for 24h
// and at most 1,000 per queue, failed ones for 7 days and at most 10,000.
func DefaultSettings(perSecond int) Settings {
	job := func(attempts int, backoff, timeout time.Duration) fila.JobOptions {
		return fila.JobOptions{
			Attempts: attempts, Backoff: fila.Backoff{Type: fila.BackoffExponential, Delay: backoff}, Timeout: timeout,
			RemoveOnComplete: fila.Retention{KeepLast: 1000, KeepFor: 24 * time.Hour},
			RemoveOnFail:     fila.Retention{KeepLast: 10000, KeepFor: 7 * 24 * time.Hour},
			KeepLogs:         20,
		}
	}
	// Outbound retries are exponential from 2s (outboundBackoff), longer
	// after a pair rate limit, which a chatty user can hit several times.
	outboundJob := job(5, 2*time.Second, 30*time.Second)
	outboundJob.Backoff.Type = fila.BackoffCustom
	inOrder := func() *fila.GroupOptions { return &fila.GroupOptions{Concurrency: 1} }
	return Settings{
		Inbound: QueueSettings{Job: job(5, 500*time.Millisecond, 30*time.Second), Worker: fila.WorkerOptions{Concurrency: 10}, Groups: inOrder()},
		Reply:   QueueSettings{Job: job(3, time.Second, 60*time.Second), Worker: fila.WorkerOptions{Concurrency: 5}, Groups: inOrder()},
		Outbound: QueueSettings{Job: outboundJob, Worker: fila.WorkerOptions{
			Concurrency: 5, Limiter: &fila.Limit{Max: perSecond, Per: time.Second}, BackoffStrategy: outboundBackoff,
		}, Groups: &fila.GroupOptions{Concurrency: 1, Rate: fila.Limit{Max: 1, Per: pairInterval}}},
		Status: QueueSettings{Job: job(5, 500*time.Millisecond, 30*time.Second), Worker: fila.WorkerOptions{Concurrency: 5}},
		Media: QueueSettings{Job: job(3, 2*time.Second, 60*time.Second), Worker: fila.WorkerOptions{
			Concurrency: 3, Limiter: &fila.Limit{Max: 5, Per: time.Second},
		}},
	}
}

// each calls f on every queue's settings.
func (s *Settings) each(f func(*QueueSettings)) {
	for _, q := range []*QueueSettings{&s.Inbound, &s.Reply, &s.Outbound, &s.Status, &s.Media} {
		f(q)
	}
}
