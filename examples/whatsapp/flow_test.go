package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
	"github.com/fila-go/fila/examples/whatsapp/fakegraph"
)

func TestFlow(t *testing.T) {
	t.Parallel()
	for _, be := range testBackends {
		t.Run(be, func(t *testing.T) {
			t.Parallel()

			t.Run("a text message gets one read receipt and one reply with the bot's answer", func(t *testing.T) {
				t.Parallel()
				b := setup(t, be)
				b.postText("wamid.flow.1", "What are your opening hours?")
				b.waitAccepted(fakegraph.Send, 1)
				b.waitAccepted(fakegraph.Read, 1)
				b.waitIdle()

				sends, reads := b.fake.Accepted(fakegraph.Send), b.fake.Accepted(fakegraph.Read)
				require.Len(t, sends, 1)
				require.Len(t, reads, 1)
				require.Equal(t, botHours, sends[0].Text)
				require.Equal(t, testUser, sends[0].To)
				require.Equal(t, testPhoneNumberID, sends[0].PhoneNumberID)
				require.Equal(t, "wamid.flow.1", sends[0].ReplyTo)
				require.Equal(t, "wamid.flow.1", reads[0].MessageID)

				history, err := b.app.storage.store.History(context.Background(), testUser, 10)
				require.NoError(t, err)
				require.Len(t, history, 2)
				require.Equal(t, Inbound, history[0].Direction)
				require.Equal(t, "What are your opening hours?", history[0].Text)
				require.Equal(t, Outbound, history[1].Direction)
				require.Equal(t, sends[0].MessageID, history[1].ID)
			})

			t.Run("a delivery posted five times is answered once, even after its job was removed", func(t *testing.T) {
				t.Parallel()
				b := setup(t, be)
				body := b.postText("wamid.dup.1", "hello")
				for range 4 {
					require.Equal(t, http.StatusOK, b.post(body))
				}
				b.waitAccepted(fakegraph.Send, 1)
				b.waitIdle()
				require.Equal(t, int64(1), b.counts()[queueInbound].Completed)

				// Retention removed the job; Meta retries days later.
				require.NoError(t, b.app.queues.inbound.Remove(context.Background(), "wamid.dup.1"))
				require.Equal(t, http.StatusOK, b.post(body))
				time.Sleep(300 * time.Millisecond)
				b.waitIdle()
				require.Len(t, b.fake.Accepted(fakegraph.Send), 1)
				require.Len(t, b.fake.Accepted(fakegraph.Read), 1)
				require.Zero(t, b.counts()[queueInbound].Completed)
			})

			t.Run("a photo is looked up on the Graph API, then answered", func(t *testing.T) {
				t.Parallel()
				b := setup(t, be)
				img := testPNG(t, 40, 30)
				b.fake.AddMedia("media-1", "image/png", img)
				n := cloudapi.MediaNotification(inbound("wamid.photo.1"), cloudapi.TypeImage, cloudapi.Media{ID: "media-1", MimeType: "image/png", Caption: "red?"})
				require.Equal(t, http.StatusOK, b.post(mustJSON(t, n)))
				b.waitAccepted(fakegraph.Send, 1)
				b.waitIdle()

				// With flows, the download, thumbnail and scan children each
				// look the file up; the parent answers with what they found.
				lookups, want := b.fake.Accepted(fakegraph.Media), 1
				text := fmt.Sprintf(`Thanks for the photo (image/png, %d bytes) with the caption "red?". A person will look at it and answer here.`, len(img))
				if b.hasFlows() {
					want = 3
					text = fmt.Sprintf(`Thanks for the photo (image/png, 40x30, %d bytes) with the caption "red?". A person will look at it and answer here.`, len(img))
				}
				require.Len(t, lookups, want)
				for _, l := range lookups {
					require.Equal(t, "media-1", l.MediaID)
				}
				require.Equal(t, text, b.fake.Accepted(fakegraph.Send)[0].Text)
				require.Len(t, b.fake.Accepted(fakegraph.Read), 1)
			})

			t.Run("status webhooks update the store, deduplicated and never moving back", func(t *testing.T) {
				t.Parallel()
				b := setup(t, be)
				status := func(s string) []byte {
					return mustJSON(t, cloudapi.StatusNotification(testPhoneNumberID, cloudapi.Status{
						ID: "wamid.out.1", Status: s, Timestamp: cloudapi.Timestamp(time.Now()), RecipientID: testUser,
					}))
				}
				require.NoError(t, b.app.storage.store.SaveMessage(context.Background(), StoredMessage{
					ID: "wamid.out.1", WaID: testUser, Direction: Outbound, Type: "text", Text: "hi", At: time.Now(),
				}))
				for _, s := range []string{"sent", "read", "read", "delivered", "sent"} {
					require.Equal(t, http.StatusOK, b.post(status(s)))
				}
				b.waitIdle()
				require.Equal(t, int64(3), b.counts()[queueStatus].Completed, "sent, read, delivered; the repeats are deduplicated")
				m, err := b.app.storage.store.Message(context.Background(), testUser, "wamid.out.1")
				require.NoError(t, err)
				require.Equal(t, "read", m.Status)
			})

			t.Run("a reaction is recorded, not answered", func(t *testing.T) {
				t.Parallel()
				b := setup(t, be)
				n := cloudapi.TextNotification(inbound("wamid.react.1"), "")
				m := &n.Entry[0].Changes[0].Value.Messages[0]
				m.Type, m.Text, m.Reaction = cloudapi.TypeReaction, nil, &cloudapi.Reaction{MessageID: "wamid.out.9", Emoji: "👍"}
				require.Equal(t, http.StatusOK, b.post(mustJSON(t, n)))
				b.waitIdle()
				require.Equal(t, int64(1), b.counts()[queueInbound].Completed)
				require.Empty(t, b.fake.Calls())
			})
		})
	}
}
