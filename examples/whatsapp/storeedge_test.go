package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
	"github.com/fila-go/fila/internal/redistest"
)

// A lock shorter than fila's workers accept is refused at startup, naming
// the environment variable, like every other bad setting.
func TestLockDurationBelowTheWorkerMinimumIsAConfigError(t *testing.T) {
	env := map[string]string{
		"WHATSAPP_VERIFY_TOKEN": "v", "WHATSAPP_APP_SECRET": "s", "WHATSAPP_ACCESS_TOKEN": "a",
		"LOCK_DURATION": "5ms",
	}
	_, err := loadConfig(nil, func(k string) string { return env[k] }, io.Discard)
	require.ErrorContains(t, err, "LOCK_DURATION")
}

// A receipt without recipient_id is still stored with its keys in one
// Cluster slot: an empty {} hash tag would hash each whole key apart.
func TestStatusWithoutRecipientStaysInOneSlot(t *testing.T) {
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: redistest.Cluster(t)})
	t.Cleanup(func() { rdb.Close() })
	// The webhook queues a receipt that carries no recipient_id.
	n := &cloudapi.Notification{Object: cloudapi.ObjectWhatsApp, Entry: []cloudapi.Entry{{Changes: []cloudapi.Change{{
		Field: cloudapi.FieldMessages, Value: cloudapi.Value{Statuses: []cloudapi.Status{{ID: "wamid.x", Status: "sent"}}},
	}}}}}
	d := parseDelivery(n, time.Now())
	require.Len(t, d.statuses, 1)
	s := newRedisStore(goredisEvaler{rdb}, uniquePrefix())
	h := &statusHandler{store: s, log: slog.New(slog.DiscardHandler)}
	_, err := h.handle(context.Background(), nil, d.statuses[0])
	require.NoError(t, err)
}

// History with n <= 0 is empty on the memory store, as on Redis, not a
// panic.
func TestMemoryHistoryOfNoMessages(t *testing.T) {
	s := newMemoryStore()
	require.NoError(t, s.SaveMessage(context.Background(), StoredMessage{ID: "a", WaID: testUser, Direction: Inbound}))
	h, err := s.History(context.Background(), testUser, -1)
	require.NoError(t, err)
	require.Empty(t, h)
}
