package main

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend/memory"
	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
)

// FuzzWebhookParse feeds arbitrary bodies through the webhook's parsing:
// JSON into a cloudapi.Notification, parseDelivery, and the jobs built from
// it added to fila queues. Nothing panics; every message and status kept
// has its ID; every job encodes; fila takes each one or refuses it as
// invalid (which the webhook skips), never with another error.
func FuzzWebhookParse(f *testing.F) {
	at := time.Unix(1700000000, 0)
	in := cloudapi.Inbound{PhoneNumberID: "1001", DisplayNumber: "15550001", From: "15551234", Name: "Ada", ID: "wamid.A", At: at}
	for _, n := range []cloudapi.Notification{
		cloudapi.TextNotification(in, "hello"),
		cloudapi.MediaNotification(in, cloudapi.TypeImage, cloudapi.Media{ID: "m1", MimeType: "image/jpeg"}),
		cloudapi.StatusNotification("1001", cloudapi.Status{ID: "wamid.B", Status: "delivered", RecipientID: "15551234"}),
	} {
		b, err := json.Marshal(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},"messages":[{"id":"` + "\x01" + `","from":"x"}],"statuses":[{"id":"s","status":"read"}]}}]}]}`))
	f.Add([]byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},"messages":[{"id":"12345"}]}}]}]}`))
	f.Add([]byte(`{"object":1}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"entry":[null,{"changes":[null]}]}`))

	be := memory.New()
	f.Cleanup(func() { be.Close() })
	inbound := fila.NewQueue(be, "inbound")
	status := fila.NewQueue(be, "status")
	ctx := context.Background()

	f.Fuzz(func(t *testing.T, body []byte) {
		var n cloudapi.Notification
		if err := json.Unmarshal(body, &n); err != nil {
			return // the webhook answers 400
		}
		d := parseDelivery(&n, at)
		for _, m := range d.messages {
			if m.Message.ID == "" || m.PhoneNumberID == "" {
				t.Fatalf("a message without an ID or phone number was kept: %+v", m)
			}
			add(ctx, t, inbound, jobMessage, m, m.Message.ID, m.Message.ID)
		}
		for _, s := range d.statuses {
			if s.Status.ID == "" || s.Status.Status == "" {
				t.Fatalf("a status without an ID was kept: %+v", s)
			}
			add(ctx, t, status, jobStatus, s, "", s.Status.ID+"|"+s.Status.Status)
		}
	})
}

// add adds one job as the webhook does: JobID and a dedup ID from the
// delivery's own IDs.
func add(ctx context.Context, t *testing.T, q *fila.Queue, name string, v any, id, dedup string) {
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode %s job: %v", name, err)
	}
	_, err = q.Add(ctx, name, data, &fila.JobOptions{JobID: id, Dedup: &fila.Dedup{ID: dedup, TTL: dedupTTL}})
	if err != nil && !errors.Is(err, fila.ErrInvalid) {
		t.Fatalf("add %s job %q: %v", name, id, err)
	}
}

// FuzzVerifySignature: any header and body give an error or a match, never
// a panic, and a body signed with the secret always verifies.
func FuzzVerifySignature(f *testing.F) {
	f.Add("sha256=00", []byte("{}"), "secret")
	f.Add(cloudapi.Sign([]byte("{}"), "secret"), []byte("{}"), "secret")
	f.Add("", []byte(nil), "")
	f.Fuzz(func(t *testing.T, header string, body []byte, secret string) {
		_ = cloudapi.VerifySignature(header, body, secret)
		if err := cloudapi.VerifySignature(cloudapi.Sign(body, secret), body, secret); err != nil {
			t.Fatalf("a signed body does not verify: %v", err)
		}
	})
}
