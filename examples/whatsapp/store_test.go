package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestStores runs the Store contract against both implementations.
func TestStores(t *testing.T) {
	t.Parallel()
	stores := map[string]func(t *testing.T) Store{
		"memory": func(t *testing.T) Store { return newMemoryStore() },
		"redis": func(t *testing.T) Store {
			mr := miniredis.RunT(t)
			rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
			t.Cleanup(func() { rdb.Close() })
			return newRedisStore(rdb, "wa")
		},
	}
	ctx := context.Background()
	at := time.UnixMilli(1_750_000_000_000)
	msg := func(id string, dir Direction) StoredMessage {
		return StoredMessage{ID: id, WaID: testUser, Direction: dir, Type: "text", Text: "text of " + id, At: at}
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()

			t.Run("history is oldest first and saving again does not repeat a message", func(t *testing.T) {
				s := newStore(t)
				for _, id := range []string{"a", "b", "a", "c"} {
					require.NoError(t, s.SaveMessage(ctx, msg(id, Inbound)))
				}
				h, err := s.History(ctx, testUser, 10)
				require.NoError(t, err)
				require.Equal(t, []string{"a", "b", "c"}, ids(h))
				require.Equal(t, msg("a", Inbound), h[0])
				h, err = s.History(ctx, testUser, 2)
				require.NoError(t, err)
				require.Equal(t, []string{"b", "c"}, ids(h))
				h, err = s.History(ctx, "someone else", 10)
				require.NoError(t, err)
				require.Empty(t, h)
			})

			t.Run("history keeps the newest messages only", func(t *testing.T) {
				s := newStore(t)
				for i := range historyLen + 5 {
					require.NoError(t, s.SaveMessage(ctx, msg(fmt.Sprint(i), Inbound)))
				}
				h, err := s.History(ctx, testUser, 1000)
				require.NoError(t, err)
				require.Len(t, h, historyLen)
				require.Equal(t, "5", h[0].ID)
			})

			t.Run("receipts never move a message back, whatever their order", func(t *testing.T) {
				s := newStore(t)
				require.NoError(t, s.SaveMessage(ctx, msg("out", Outbound)))
				for _, c := range []struct {
					status string
					want   bool
				}{{"read", true}, {"delivered", false}, {"sent", false}, {"read", false}, {"failed", true}} {
					applied, err := s.UpdateStatus(ctx, StatusUpdate{MessageID: "out", WaID: testUser, Status: c.status, At: at, Error: "e"})
					require.NoError(t, err)
					require.Equal(t, c.want, applied, c.status)
				}
				m, err := s.Message(ctx, testUser, "out")
				require.NoError(t, err)
				require.Equal(t, "failed", m.Status)
				require.Equal(t, at, m.StatusAt)
			})

			t.Run("a receipt that comes before its message is kept for it", func(t *testing.T) {
				s := newStore(t)
				applied, err := s.UpdateStatus(ctx, StatusUpdate{MessageID: "early", WaID: testUser, Status: "delivered", At: at})
				require.NoError(t, err)
				require.True(t, applied)
				require.NoError(t, s.SaveMessage(ctx, msg("early", Outbound)))
				m, err := s.Message(ctx, testUser, "early")
				require.NoError(t, err)
				require.Equal(t, "delivered", m.Status)
				require.Equal(t, "text of early", m.Text)
				h, err := s.History(ctx, testUser, 10)
				require.NoError(t, err)
				require.Equal(t, []string{"early"}, ids(h))
			})

			t.Run("an unknown message is not found", func(t *testing.T) {
				_, err := newStore(t).Message(ctx, testUser, "nope")
				require.ErrorIs(t, err, ErrMessageNotFound)
			})

			t.Run("a send job's message is known from its save or from a receipt's callback data", func(t *testing.T) {
				s := newStore(t)
				id, err := s.SentMessageID(ctx, "send:wamid.1")
				require.NoError(t, err)
				require.Empty(t, id)

				m := msg("wamid.out.1", Outbound)
				m.Key = "send:wamid.1"
				require.NoError(t, s.SaveMessage(ctx, m))
				id, err = s.SentMessageID(ctx, "send:wamid.1")
				require.NoError(t, err)
				require.Equal(t, "wamid.out.1", id)

				_, err = s.UpdateStatus(ctx, StatusUpdate{MessageID: "wamid.out.2", WaID: testUser, Status: "sent", CallbackData: "send:wamid.2"})
				require.NoError(t, err)
				id, err = s.SentMessageID(ctx, "send:wamid.2")
				require.NoError(t, err)
				require.Equal(t, "wamid.out.2", id)
			})
		})
	}
}

func ids(ms []StoredMessage) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}
