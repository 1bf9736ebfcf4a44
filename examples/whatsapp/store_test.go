package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend/upstash"
	"github.com/fila-go/fila/internal/pgtest"
	"github.com/fila-go/fila/internal/redistest"
)

// TestStores runs the Store contract against every implementation: the
// memory store, and the Redis store over go-redis (miniredis, a private
// redis-server) and over Upstash's REST API (the emulator).
func TestStores(t *testing.T) {
	t.Parallel()
	stores := map[string]func(t *testing.T) Store{
		"memory": func(t *testing.T) Store { return newMemoryStore() },
		"miniredis": func(t *testing.T) Store {
			return newRedisStore(goredisEvaler{newMiniredisClient(t)}, "wa")
		},
		"redis": func(t *testing.T) Store {
			rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr(t)})
			t.Cleanup(func() { rdb.Close() })
			return newRedisStore(goredisEvaler{rdb}, uniquePrefix())
		},
		"upstash": func(t *testing.T) Store {
			return newRedisStore(newUpstashConn(t), "wa")
		},
		"postgres": func(t *testing.T) Store {
			pool, err := pgxpool.New(context.Background(), pgtest.DB(t))
			require.NoError(t, err)
			t.Cleanup(pool.Close)
			s, err := newPgStore(context.Background(), pool, "wa")
			require.NoError(t, err)
			return s
		},
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testStoreContract(t, newStore)
		})
	}
}

// TestRedisStoreOnCluster runs the Store contract on a Redis Cluster: every
// script gets all its keys in KEYS, on one slot.
func TestRedisStoreOnCluster(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: redistest.Cluster(t)})
	t.Cleanup(func() { rdb.Close() })
	testStoreContract(t, func(t *testing.T) Store { return newRedisStore(goredisEvaler{rdb}, uniquePrefix()) })
}

// testStoreContract checks the behaviour every Store promises, on a new
// store per subtest.
func testStoreContract(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	at := time.UnixMilli(1_750_000_000_000)
	msg := func(id string, dir Direction) StoredMessage {
		return StoredMessage{ID: id, WaID: testUser, Direction: dir, Type: "text", Text: "text of " + id, At: at}
	}

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

	t.Run("every field survives the round trip, whatever the text holds", func(t *testing.T) {
		s := newStore(t)
		m := StoredMessage{
			ID: "wamid.out.rt", WaID: testUser, Direction: Outbound, Type: "text",
			Text: "Say \"hi\" / <b>&</b> \\ tab\t newline\n ünïcødé 👍 \u2028 {\"k\":1} [] 12345678901234567890",
			At:   at, Key: "send:wamid.rt", Status: "failed", StatusAt: at.Add(time.Second), Error: "131047: \"re-engagement\"",
		}
		require.NoError(t, s.SaveMessage(ctx, m))
		got, err := s.Message(ctx, testUser, m.ID)
		require.NoError(t, err)
		require.Equal(t, m, got)
		h, err := s.History(ctx, testUser, 1)
		require.NoError(t, err)
		require.Equal(t, []StoredMessage{m}, h)
		h, err = s.History(ctx, testUser, 0)
		require.NoError(t, err)
		require.Empty(t, h)
	})

	t.Run("a send job keeps the first message recorded for it", func(t *testing.T) {
		s := newStore(t)
		_, err := s.UpdateStatus(ctx, StatusUpdate{MessageID: "wamid.first", WaID: testUser, Status: "sent", CallbackData: "send:wamid.k"})
		require.NoError(t, err)
		m := msg("wamid.second", Outbound)
		m.Key = "send:wamid.k"
		require.NoError(t, s.SaveMessage(ctx, m))
		id, err := s.SentMessageID(ctx, "send:wamid.k")
		require.NoError(t, err)
		require.Equal(t, "wamid.first", id)
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
}

// TestRedisStoreLayout checks the keys the Redis store writes, their TTLs,
// and that neither trimmed messages nor receipts whose message never came
// pile up in a conversation's hash.
func TestRedisStoreLayout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	at := time.UnixMilli(1_750_000_000_000)
	conv, msgs := "wa:{"+testUser+"}:conv", "wa:{"+testUser+"}:msgs"
	fields := func(t *testing.T, mr *miniredis.Miniredis) []string {
		t.Helper()
		f, err := mr.HKeys(msgs)
		require.NoError(t, err)
		return f
	}
	setup := func(t *testing.T) (*redisStore, *miniredis.Miniredis) {
		mr := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { rdb.Close() })
		s := newRedisStore(goredisEvaler{rdb}, "wa")
		s.now = func() time.Time { return at }
		return s, mr
	}

	t.Run("a user's conversation is two keys with one hash tag, expiring storeTTL after the last write", func(t *testing.T) {
		t.Parallel()
		s, mr := setup(t)
		m := StoredMessage{ID: "wamid.out.1", WaID: testUser, Direction: Outbound, Type: "text", Text: "hi", At: at, Key: "send:wamid.1"}
		require.NoError(t, s.SaveMessage(ctx, m))
		require.ElementsMatch(t, []string{conv, msgs, "wa:sent:send:wamid.1"}, mr.Keys())
		ids, err := mr.List(conv)
		require.NoError(t, err)
		require.Equal(t, []string{"wamid.out.1"}, ids)
		require.Equal(t, []string{"wamid.out.1"}, fields(t, mr))
		require.Equal(t, storeTTL, mr.TTL(conv))
		require.Equal(t, storeTTL, mr.TTL(msgs))
		require.Equal(t, sentTTL, mr.TTL("wa:sent:send:wamid.1"))

		mr.FastForward(time.Hour)
		_, err = s.UpdateStatus(ctx, StatusUpdate{MessageID: "wamid.out.1", WaID: testUser, Status: "read", At: at})
		require.NoError(t, err)
		require.Equal(t, storeTTL, mr.TTL(conv), "a receipt keeps the conversation too")
		require.Equal(t, storeTTL, mr.TTL(msgs))
	})

	t.Run("messages trimmed from the history are deleted", func(t *testing.T) {
		t.Parallel()
		s, mr := setup(t)
		for i := range historyLen + 5 {
			require.NoError(t, s.SaveMessage(ctx, StoredMessage{ID: fmt.Sprint(i), WaID: testUser, Direction: Inbound, At: at}))
		}
		ids, err := mr.List(conv)
		require.NoError(t, err)
		require.Len(t, ids, historyLen)
		require.ElementsMatch(t, ids, fields(t, mr))
		_, err = s.Message(ctx, testUser, "0")
		require.ErrorIs(t, err, ErrMessageNotFound)
	})

	t.Run("receipts whose message never came are swept after pendingTTL, once the hash is full", func(t *testing.T) {
		t.Parallel()
		s, mr := setup(t)
		for i := range historyLen {
			_, err := s.UpdateStatus(ctx, StatusUpdate{MessageID: fmt.Sprintf("stray.%d", i), WaID: testUser, Status: "delivered", At: at})
			require.NoError(t, err)
		}
		require.Len(t, fields(t, mr), historyLen, "not full yet: nothing swept")
		s.now = func() time.Time { return at.Add(pendingTTL) }
		_, err := s.UpdateStatus(ctx, StatusUpdate{MessageID: "young", WaID: testUser, Status: "sent", At: at})
		require.NoError(t, err)
		require.Len(t, fields(t, mr), historyLen+1, "the strays are not older than pendingTTL yet")

		s.now = func() time.Time { return at.Add(pendingTTL + time.Millisecond) }
		require.NoError(t, s.SaveMessage(ctx, StoredMessage{ID: "in.1", WaID: testUser, Direction: Inbound, At: at}))
		require.ElementsMatch(t, []string{"young", "in.1"}, fields(t, mr))
		h, err := s.History(ctx, testUser, historyLen)
		require.NoError(t, err)
		require.Equal(t, []string{"in.1"}, ids(h), "a pending receipt is not in the history")
	})
}

// newMiniredisClient returns a client of a fresh miniredis, both closed
// when the test ends.
func newMiniredisClient(t *testing.T) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: miniredis.RunT(t).Addr()})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// newUpstashConn returns a REST Conn to a fresh emulator, closed when the
// test ends.
func newUpstashConn(t *testing.T) *upstash.Conn {
	t.Helper()
	conn, err := upstash.NewConn(startUpstash(t))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

var prefixes atomic.Int64

// uniquePrefix returns a key prefix no other store of this test binary
// uses, for stores that share a server (FILA_REDIS_ADDR, the Cluster).
func uniquePrefix() string {
	return fmt.Sprintf("wa-test-%d-%d", time.Now().UnixNano(), prefixes.Add(1))
}

func ids(ms []StoredMessage) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// TestPostgresStorage opens the app's storage on DATABASE_URL: fila's
// schema is migrated, the conversation tables exist, and a job added
// through the backend is there to claim.
func TestPostgresStorage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := openStorage(ctx, StorageConfig{DatabaseURL: pgtest.DB(t)}, nil)
	require.NoError(t, err)
	defer st.close()
	require.Equal(t, "postgres", st.kind)
	require.True(t, st.durable)
	require.NoError(t, st.store.SaveMessage(ctx, StoredMessage{ID: "wamid.1", WaID: "u", Direction: Inbound, Text: "hi", At: time.Now()}))
	h, err := st.store.History(ctx, "u", 10)
	require.NoError(t, err)
	require.Len(t, h, 1)
	require.NoError(t, st.backend.Ping(ctx))
}
