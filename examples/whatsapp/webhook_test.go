package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend/memory"
	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
)

func TestVerificationHandshake(t *testing.T) {
	t.Parallel()
	b := setup(t, "memory")
	verify := func(mode, token, challenge string) (int, string) {
		q := url.Values{"hub.mode": {mode}, "hub.verify_token": {token}, "hub.challenge": {challenge}}
		code, body := b.get("/webhook?" + q.Encode())
		return code, string(body)
	}

	t.Run("the right token gets the challenge back as plain text", func(t *testing.T) {
		code, body := verify("subscribe", testVerifyToken, "1158201444")
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "1158201444", body)
	})
	t.Run("a wrong token gets 403", func(t *testing.T) {
		code, body := verify("subscribe", "guess", "1158201444")
		require.Equal(t, http.StatusForbidden, code)
		require.NotContains(t, body, "1158201444")
	})
	t.Run("a mode other than subscribe gets 403", func(t *testing.T) {
		code, _ := verify("unsubscribe", testVerifyToken, "1158201444")
		require.Equal(t, http.StatusForbidden, code)
	})
	t.Run("a missing challenge gets 400", func(t *testing.T) {
		code, _ := verify("subscribe", testVerifyToken, "")
		require.Equal(t, http.StatusBadRequest, code)
	})
}

func TestWebhookRefusesBadRequests(t *testing.T) {
	t.Parallel()
	for _, be := range testBackends {
		t.Run(be, func(t *testing.T) {
			t.Parallel()
			b := setup(t, be)
			valid := mustJSON(t, cloudapi.TextNotification(inbound("wamid.bad.1"), "hello"))
			oversized := append(bytes.Repeat([]byte(" "), maxWebhookBody), valid...)
			cases := []struct {
				name      string
				body      []byte
				signature string
				want      int
			}{
				{"no signature gets 401", valid, "", http.StatusUnauthorized},
				{"a signature made with another secret gets 403", valid, cloudapi.Sign(valid, "another-secret"), http.StatusForbidden},
				{"a signature of other bytes gets 403", valid, cloudapi.Sign(append(valid, ' '), testAppSecret), http.StatusForbidden},
				{"a truncated signature gets 403", valid, cloudapi.Sign(valid, testAppSecret)[:40], http.StatusForbidden},
				{"a signature without its sha256= prefix gets 403", valid, strings.TrimPrefix(cloudapi.Sign(valid, testAppSecret), "sha256="), http.StatusForbidden},
				{"signed malformed JSON gets 400", []byte(`{"object":`), cloudapi.Sign([]byte(`{"object":`), testAppSecret), http.StatusBadRequest},
				{"a body over the limit gets 413", oversized, cloudapi.Sign(oversized, testAppSecret), http.StatusRequestEntityTooLarge},
			}
			before := b.counts()
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					require.Equal(t, c.want, b.post(c.body, c.signature))
					require.Equal(t, before, b.counts(), "nothing may be enqueued")
				})
			}
			require.Empty(t, b.fake.Calls())
		})
	}
}

func TestWebhookAnswers200ToEventsItIgnores(t *testing.T) {
	t.Parallel()
	b := setup(t, "memory")
	before := b.counts()
	other := cloudapi.TextNotification(inbound("wamid.ignored.1"), "hi")
	other.Object = "page"
	field := cloudapi.TextNotification(inbound("wamid.ignored.2"), "hi")
	field.Entry[0].Changes[0].Field = "account_update"
	noID := cloudapi.TextNotification(inbound(""), "hi")
	for _, n := range []cloudapi.Notification{other, field, noID} {
		require.Equal(t, http.StatusOK, b.post(mustJSON(t, n)))
	}
	require.Equal(t, before, b.counts())
}

func TestWebhookAnswers503WhenTheBackendIsDown(t *testing.T) {
	t.Parallel()
	be := memory.New()
	require.NoError(t, be.Close())
	wh := &webhook{
		appSecret: testAppSecret, queues: newQueues(be, DefaultSettings(10)),
		log: slog.New(slog.DiscardHandler), metrics: newWebhookMetrics(),
	}
	body := mustJSON(t, cloudapi.TextNotification(inbound("wamid.down.1"), "hello"))
	req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, "/webhook", bytes.NewReader(body))
	req.Header.Set(cloudapi.SignatureHeader, cloudapi.Sign(body, testAppSecret))
	rec := httptest.NewRecorder()
	wh.receive(rec, req)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, "Meta must deliver it again later")
	_, _ = io.Copy(io.Discard, rec.Body)
}

func TestParseDeliveryWalksEveryEntryAndChange(t *testing.T) {
	t.Parallel()
	a := cloudapi.TextNotification(inbound("wamid.a"), "one")
	b := cloudapi.TextNotification(inbound("wamid.b"), "two")
	s := cloudapi.StatusNotification(testPhoneNumberID, cloudapi.Status{ID: "wamid.out", Status: "read", RecipientID: testUser})
	n := cloudapi.Notification{Object: cloudapi.ObjectWhatsApp, Entry: []cloudapi.Entry{
		{ID: "1", Changes: append(a.Entry[0].Changes, s.Entry[0].Changes...)},
		{ID: "2", Changes: append(b.Entry[0].Changes, cloudapi.Change{Field: "account_alerts"})},
	}}
	d := parseDelivery(&n, time.Now())
	require.Len(t, d.messages, 2)
	require.Equal(t, "wamid.a", d.messages[0].Message.ID)
	require.Equal(t, "wamid.b", d.messages[1].Message.ID)
	require.Equal(t, testUserName, d.messages[0].ContactName)
	require.Len(t, d.statuses, 1)
	require.Equal(t, 1, d.ignored)
}
