package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
)

// maxWebhookBody is the largest webhook body accepted. Meta batches up to
// about 1000 updates and 3 MB in one POST (non-ASCII text arrives \u-escaped,
// 6 to 12 bytes a character), and answers anything but 200 by delivering
// the same body again for days: a limit below what Meta sends loses the
// batch. 8 MiB leaves room above Meta's figure and still bounds memory.
const maxWebhookBody = 8 << 20

// enqueueTimeout bounds the adds of one delivery. They do not follow the
// request's context: a client that hangs up must not cut an add in half.
const enqueueTimeout = 5 * time.Second

// webhook answers Meta's webhook calls: the verification handshake (GET)
// and event notifications (POST), which it checks, enqueues and answers at
// once. All processing happens in the workers.
type webhook struct {
	verifyToken string
	appSecret   string
	queues      *queues
	log         *slog.Logger
	metrics     *webhookMetrics
}

// verify answers the subscription handshake: the challenge, as plain text,
// for the right token; 403 otherwise.
func (h *webhook) verify(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	token := q.Get("hub.verify_token")
	if q.Get("hub.mode") != "subscribe" || subtle.ConstantTimeCompare([]byte(token), []byte(h.verifyToken)) != 1 {
		h.log.Warn("webhook verification refused", "mode", q.Get("hub.mode"))
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	challenge := q.Get("hub.challenge")
	if challenge == "" {
		http.Error(w, "hub.challenge is missing", http.StatusBadRequest)
		return
	}
	h.log.Info("webhook verified")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, challenge)
}

// receive checks, parses and enqueues one notification. Only a bad request
// gets a 4xx (Meta would retry anything else for days); a backend failure
// gets a 503 so that Meta delivers again later; everything else, ignored
// events included, gets a 200.
func (h *webhook) receive(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	code := h.handle(w, r)
	h.metrics.observe(code, time.Since(start))
	if code != http.StatusOK {
		http.Error(w, http.StatusText(code), code)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// handle does the work of receive and returns the status to answer.
func (h *webhook) handle(w http.ResponseWriter, r *http.Request) int {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
	if err != nil {
		if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) {
			h.log.Warn("webhook refused: body over the limit", "limit_bytes", maxWebhookBody)
			return http.StatusRequestEntityTooLarge
		}
		h.log.Warn("webhook refused: body unreadable", "err", err)
		return http.StatusBadRequest
	}
	if err := cloudapi.VerifySignature(r.Header.Get(cloudapi.SignatureHeader), body, h.appSecret); err != nil {
		h.log.Warn("webhook refused", "err", err, "remote", r.RemoteAddr)
		if errors.Is(err, cloudapi.ErrNoSignature) {
			return http.StatusUnauthorized
		}
		return http.StatusForbidden
	}
	var n cloudapi.Notification
	if err := json.Unmarshal(body, &n); err != nil {
		h.log.Warn("webhook refused: malformed JSON", "err", err)
		return http.StatusBadRequest
	}
	d := parseDelivery(&n, time.Now())
	for _, e := range d.errors {
		h.log.Warn("Meta reported an error", "code", e.Code, "title", e.Title, "message", e.Message)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), enqueueTimeout)
	defer cancel()
	res, err := h.enqueue(ctx, &d)
	h.metrics.count(res)
	if err != nil {
		h.log.Error("webhook not enqueued; Meta will deliver it again", "err", err)
		return http.StatusServiceUnavailable
	}
	h.log.Debug("webhook accepted", "messages", res.messages, "statuses", res.statuses,
		"duplicates", res.duplicates, "ignored", d.ignored+res.invalid)
	return http.StatusOK
}

// enqueueResult counts what one delivery added.
type enqueueResult struct {
	messages, statuses, duplicates, invalid int
}

// enqueue adds the delivery's messages to the inbound queue, each
// deduplicated on its wamid, and its statuses to the status queue, each
// deduplicated on (message ID, status).
func (h *webhook) enqueue(ctx context.Context, d *delivery) (enqueueResult, error) {
	var res enqueueResult
	in := make([]fila.BulkJob, 0, len(d.messages))
	for _, m := range d.messages {
		job, err := bulkJob(jobMessage, m, m.Message.ID, m.Message.ID)
		job.Options.Group = customerGroup(m.Message.From) // one customer's messages in order
		if err != nil {
			return res, err
		}
		in = append(in, job)
	}
	st := make([]fila.BulkJob, 0, len(d.statuses))
	for _, s := range d.statuses {
		job, err := bulkJob(jobStatus, s, "", s.Status.ID+"|"+s.Status.Status)
		if err != nil {
			return res, err
		}
		st = append(st, job)
	}
	added, dups, invalid, err := h.addAll(ctx, h.queues.inbound, in)
	res.messages, res.duplicates, res.invalid = added, dups, invalid
	if err != nil {
		return res, err
	}
	added, dups, invalid, err = h.addAll(ctx, h.queues.status, st)
	res.statuses, res.duplicates, res.invalid = added, res.duplicates+dups, res.invalid+invalid
	return res, err
}

func bulkJob(name string, v any, id, dedup string) (fila.BulkJob, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return fila.BulkJob{}, fmt.Errorf("encode %s job %q: %w", name, dedup, err)
	}
	return fila.BulkJob{Name: name, Data: data, Options: &fila.JobOptions{
		JobID: id, Dedup: &fila.Dedup{ID: dedup, TTL: dedupTTL},
	}}, nil
}

// addAll adds jobs in one call. When fila refuses one of them as invalid
// (an ID it cannot store), it adds them one by one and skips the invalid
// ones: retrying could never fix them, and one must not make Meta redeliver
// the whole batch for a week.
func (h *webhook) addAll(ctx context.Context, q *fila.Queue, jobs []fila.BulkJob) (added, dups, invalid int, err error) {
	if len(jobs) == 0 {
		return 0, 0, 0, nil
	}
	res, err := q.AddBulk(ctx, jobs)
	if err == nil {
		for _, j := range res {
			if j.Deduplicated || j.Existed {
				dups++
			} else {
				added++
			}
		}
		return added, dups, 0, nil
	}
	if !errors.Is(err, fila.ErrInvalid) {
		return 0, 0, 0, err
	}
	for _, j := range jobs {
		job, err := q.Add(ctx, j.Name, j.Data, j.Options)
		switch {
		case errors.Is(err, fila.ErrInvalid):
			invalid++
			h.log.Error("webhook item skipped: fila refused it", "queue", q.Name(), "err", err)
		case err != nil:
			return added, dups, invalid, err
		case job.Deduplicated || job.Existed:
			dups++
		default:
			added++
		}
	}
	return added, dups, invalid, nil
}
