package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// storeTTL is how long the Redis store keeps a conversation after its
// last message, and a message after it was saved.
const storeTTL = 30 * 24 * time.Hour

var (
	//go:embed lua/save_message.lua
	saveMessageLua string
	//go:embed lua/update_status.lua
	updateStatusLua string
)

// redisStore is the Store of the Redis backend, shared by every process.
// The keys of one user share a hash tag, so each script stays on one
// Cluster slot:
//
//	<prefix>:{<wa_id>}:conv       list of message IDs, newest first
//	<prefix>:{<wa_id>}:msg:<id>   hash of one message
//	<prefix>:sent:<send job key>  the wamid a send job produced
type redisStore struct {
	rdb          redis.UniversalClient
	prefix       string
	save, status *redis.Script
}

func newRedisStore(rdb redis.UniversalClient, prefix string) *redisStore {
	return &redisStore{rdb: rdb, prefix: prefix, save: redis.NewScript(saveMessageLua), status: redis.NewScript(updateStatusLua)}
}

func (s *redisStore) convKey(waID string) string { return s.prefix + ":{" + waID + "}:conv" }
func (s *redisStore) msgKey(waID, id string) string {
	return s.prefix + ":{" + waID + "}:msg:" + id
}
func (s *redisStore) sentKey(key string) string { return s.prefix + ":sent:" + key }

// SaveMessage implements Store.
func (s *redisStore) SaveMessage(ctx context.Context, m StoredMessage) error {
	keys := []string{s.msgKey(m.WaID, m.ID), s.convKey(m.WaID)}
	err := s.save.Run(ctx, s.rdb, keys, m.ID, m.WaID, string(m.Direction), m.Type, m.Text,
		m.At.UnixMilli(), m.Key, historyLen, int64(storeTTL/time.Second)).Err()
	if err != nil {
		return fmt.Errorf("conversation store: save message %q: %w", m.ID, err)
	}
	if m.Key != "" {
		if err := s.markSent(ctx, m.Key, m.ID); err != nil {
			return err
		}
	}
	return nil
}

func (s *redisStore) markSent(ctx context.Context, key, id string) error {
	if err := s.rdb.SetArgs(ctx, s.sentKey(key), id, redis.SetArgs{Mode: "NX", TTL: sentTTL}).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("conversation store: record that %q sent %q: %w", key, id, err)
	}
	return nil
}

// History implements Store.
func (s *redisStore) History(ctx context.Context, waID string, n int) ([]StoredMessage, error) {
	ids, err := s.rdb.LRange(ctx, s.convKey(waID), 0, int64(n-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("conversation store: read history of %q: %w", waID, err)
	}
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, s.msgKey(waID, id))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("conversation store: read history of %q: %w", waID, err)
	}
	out := make([]StoredMessage, 0, len(ids))
	for _, c := range cmds {
		if h := c.Val(); len(h) > 0 {
			out = append(out, decodeMessage(h))
		}
	}
	slices.Reverse(out)
	return out, nil
}

// Message implements Store.
func (s *redisStore) Message(ctx context.Context, waID, id string) (StoredMessage, error) {
	h, err := s.rdb.HGetAll(ctx, s.msgKey(waID, id)).Result()
	if err != nil {
		return StoredMessage{}, fmt.Errorf("conversation store: read message %q: %w", id, err)
	}
	if len(h) == 0 {
		return StoredMessage{}, ErrMessageNotFound
	}
	return decodeMessage(h), nil
}

// UpdateStatus implements Store.
func (s *redisStore) UpdateStatus(ctx context.Context, u StatusUpdate) (bool, error) {
	if u.CallbackData != "" {
		if err := s.markSent(ctx, u.CallbackData, u.MessageID); err != nil {
			return false, err
		}
	}
	n, err := s.status.Run(ctx, s.rdb, []string{s.msgKey(u.WaID, u.MessageID)}, u.Status, statusRank(u.Status),
		u.At.UnixMilli(), u.Error, u.MessageID, u.WaID, int64(storeTTL/time.Second)).Int()
	if err != nil {
		return false, fmt.Errorf("conversation store: apply status %q to %q: %w", u.Status, u.MessageID, err)
	}
	return n == 1, nil
}

// SentMessageID implements Store.
func (s *redisStore) SentMessageID(ctx context.Context, key string) (string, error) {
	id, err := s.rdb.Get(ctx, s.sentKey(key)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("conversation store: read what %q sent: %w", key, err)
	}
	return id, nil
}

func decodeMessage(h map[string]string) StoredMessage {
	ms := func(k string) time.Time {
		n, err := strconv.ParseInt(h[k], 10, 64)
		if err != nil || n == 0 {
			return time.Time{}
		}
		return time.UnixMilli(n)
	}
	return StoredMessage{
		ID: h["id"], WaID: h["wa_id"], Direction: Direction(h["dir"]), Type: h["type"], Text: h["text"],
		At: ms("at"), Key: h["key"], Status: h["status"], StatusAt: ms("status_at"), Error: h["error"],
	}
}
