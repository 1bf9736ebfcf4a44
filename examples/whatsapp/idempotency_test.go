package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend/memory"
	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
	"github.com/fila-go/fila/examples/whatsapp/fakegraph"
)

// TestSendJobThatRunsAgainDoesNotSendTwice runs the outbound handler on
// the same job twice, as a worker that died between sending and
// completing would have it run.
func TestSendJobThatRunsAgainDoesNotSendTwice(t *testing.T) {
	t.Parallel()
	// The store decides: every store must remember a send across runs.
	stores := map[string]func(t *testing.T) Store{
		"memory":    func(t *testing.T) Store { return newMemoryStore() },
		"miniredis": func(t *testing.T) Store { return newRedisStore(goredisEvaler{newMiniredisClient(t)}, "wa") },
		"upstash":   func(t *testing.T) Store { return newRedisStore(newUpstashConn(t), "wa") },
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			setup := func(t *testing.T) (*outboundHandler, *fakegraph.Server, *fila.Job, OutboundJob) {
				fake := fakegraph.New(fakegraph.Options{Token: testAccessToken})
				srv := httptest.NewServer(fake)
				hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
				t.Cleanup(func() { hc.CloseIdleConnections(); srv.Close(); fake.Close() })
				h := &outboundHandler{
					graph: cloudapi.NewClient(srv.URL, testAccessToken, hc), store: newStore(t), log: slog.New(slog.DiscardHandler),
				}
				o := OutboundJob{PhoneNumberID: testPhoneNumberID, To: testUser, Text: "hello", ReplyTo: "wamid.in.1"}
				be := memory.New()
				t.Cleanup(func() { be.Close() })
				job, err := fila.AddJSON(context.Background(), fila.NewQueue(be, queueOutbound), jobSend, o, &fila.JobOptions{JobID: sendKey("wamid.in.1")})
				require.NoError(t, err)
				return h, fake, job, o
			}

			t.Run("after a send that was recorded", func(t *testing.T) {
				t.Parallel()
				h, fake, job, o := setup(t)
				first, err := h.handle(context.Background(), job, o)
				require.NoError(t, err)
				again, err := h.handle(context.Background(), job, o)
				require.NoError(t, err)
				require.Len(t, fake.Accepted(fakegraph.Send), 1)
				require.Equal(t, sendResult{MessageID: first.(sendResult).MessageID, AlreadySent: true}, again)
			})

			t.Run("after a send whose status webhook echoed the job's key", func(t *testing.T) {
				t.Parallel()
				h, fake, job, o := setup(t)
				// The worker died before recording the send; Meta's "sent" receipt
				// carries the key the send put in biz_opaque_callback_data.
				_, err := h.store.UpdateStatus(context.Background(), StatusUpdate{
					MessageID: "wamid.out.1", WaID: testUser, Status: "sent", CallbackData: job.ID,
				})
				require.NoError(t, err)
				res, err := h.handle(context.Background(), job, o)
				require.NoError(t, err)
				require.Empty(t, fake.Calls())
				require.Equal(t, sendResult{MessageID: "wamid.out.1", AlreadySent: true}, res)
			})

			t.Run("the send carries its job's key as callback data", func(t *testing.T) {
				t.Parallel()
				h, fake, job, o := setup(t)
				_, err := h.handle(context.Background(), job, o)
				require.NoError(t, err)
				require.Equal(t, job.ID, fake.Accepted(fakegraph.Send)[0].CallbackData)
			})
		})
	}
}
