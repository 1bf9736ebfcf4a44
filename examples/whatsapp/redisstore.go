package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"time"

	redisbackend "github.com/fila-go/fila/backend/redis"
)

// storeTTL is how long the Redis store keeps a conversation after its
// last write (a message or a receipt).
const storeTTL = 30 * 24 * time.Hour

var (
	//go:embed lua/sweep_pending.lua
	sweepPendingLua string
	//go:embed lua/save_message.lua
	saveMessageLua string
	//go:embed lua/update_status.lua
	updateStatusLua string
	//go:embed lua/history.lua
	historyLua string
	//go:embed lua/message.lua
	messageLua string
	//go:embed lua/mark_sent.lua
	markSentLua string
	//go:embed lua/sent_message.lua
	sentMessageLua string
)

// The Redis store's scripts, one per operation; each file's header lists
// its KEYS, ARGV and reply. They are values, built once, so a transport
// that caches per script (the REST Conn's binary-safe variants) caches six.
var (
	saveMessageScript  = redisbackend.NewScript("whatsapp_save_message", sweepPendingLua+saveMessageLua)
	updateStatusScript = redisbackend.NewScript("whatsapp_update_status", sweepPendingLua+updateStatusLua)
	historyScript      = redisbackend.NewScript("whatsapp_history", historyLua)
	messageScript      = redisbackend.NewScript("whatsapp_message", messageLua)
	markSentScript     = redisbackend.NewScript("whatsapp_mark_sent", markSentLua)
	sentMessageScript  = redisbackend.NewScript("whatsapp_sent_message", sentMessageLua)
)

// redisStore is the Store of the Redis and Upstash backends, shared by
// every process. Every operation is one Lua script run through an evaler,
// so it works the same over go-redis and over Upstash's REST API, and
// every key a script touches comes in its KEYS. A user's two keys share a
// hash tag, so each script stays on one Cluster slot:
//
//	<prefix>:{<wa_id>}:conv       list of message IDs, newest first (at most historyLen)
//	<prefix>:{<wa_id>}:msgs       hash: message ID -> JSON record (see record)
//	<prefix>:sent:<send job key>  the wamid a send job produced (sentTTL)
//
// Both keys of a user expire storeTTL after the last write to either. A
// message trimmed from the history is deleted from the hash. A receipt
// that comes before its message waits in the hash as a "pending" record,
// outside the history, until the save completes it; pending records older
// than pendingTTL are swept once the hash holds more than historyLen
// records.
type redisStore struct {
	conn   evaler
	prefix string
	now    func() time.Time // dates pending receipts
}

func newRedisStore(conn evaler, prefix string) *redisStore {
	return &redisStore{conn: conn, prefix: prefix, now: time.Now}
}

// convKeys returns KEYS[1] and KEYS[2] of the conversation scripts: the
// history list and the message hash of a user.
func (s *redisStore) convKeys(waID string) []string {
	if waID == "" {
		// An empty hash tag hashes the whole key: the two keys would land
		// on different Cluster slots (CROSSSLOT). A receipt without a
		// recipient_id still needs one slot.
		waID = "-"
	}
	tag := s.prefix + ":{" + waID + "}:"
	return []string{tag + "conv", tag + "msgs"}
}

func (s *redisStore) sentKey(key string) string { return s.prefix + ":sent:" + key }

// record is a message as the store keeps it: JSON in its conversation's
// hash, times in Unix ms, numbers as JSON strings, so the scripts merge
// statuses with cjson without touching (or reformatting) the rest. The
// scripts add "pending" (Unix ms) to a receipt's record until its message
// is saved.
type record struct {
	ID        string `json:"id"`
	WaID      string `json:"wa_id"`
	Direction string `json:"dir"`
	Type      string `json:"type,omitempty"`
	Text      string `json:"text,omitempty"`
	At        int64  `json:"at,string,omitempty"`
	Key       string `json:"key,omitempty"`
	Status    string `json:"status,omitempty"`
	Rank      int    `json:"rank,string,omitempty"`
	StatusAt  int64  `json:"status_at,string,omitempty"`
	Error     string `json:"error,omitempty"`
}

func toRecord(m StoredMessage) record {
	return record{
		ID: m.ID, WaID: m.WaID, Direction: string(m.Direction), Type: m.Type, Text: m.Text, At: unixMs(m.At), Key: m.Key,
		Status: m.Status, Rank: statusRank(m.Status), StatusAt: unixMs(m.StatusAt), Error: m.Error,
	}
}

func (r record) message() StoredMessage {
	return StoredMessage{
		ID: r.ID, WaID: r.WaID, Direction: Direction(r.Direction), Type: r.Type, Text: r.Text, At: fromUnixMs(r.At),
		Key: r.Key, Status: r.Status, StatusAt: fromUnixMs(r.StatusAt), Error: r.Error,
	}
}

// decodeRecord decodes a script's reply holding a record.
func decodeRecord(v any) (StoredMessage, error) {
	raw, ok := v.(string)
	if !ok {
		return StoredMessage{}, fmt.Errorf("record is a %T, want a string", v)
	}
	var r record
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		return StoredMessage{}, fmt.Errorf("record %.60q: %w", raw, err)
	}
	return r.message(), nil
}

// unixMs is t in Unix ms, 0 for the zero time.
func unixMs(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromUnixMs(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// SaveMessage implements Store.
func (s *redisStore) SaveMessage(ctx context.Context, m StoredMessage) error {
	rec, err := json.Marshal(toRecord(m))
	if err != nil {
		return fmt.Errorf("conversation store: save message %q: %w", m.ID, err)
	}
	_, err = s.conn.Eval(ctx, saveMessageScript, s.convKeys(m.WaID), m.ID, string(rec),
		historyLen, int64(storeTTL/time.Second), s.now().UnixMilli(), pendingTTL.Milliseconds())
	if err != nil {
		return fmt.Errorf("conversation store: save message %q: %w", m.ID, err)
	}
	if m.Key != "" {
		// Its own script: the mark's key is not in the conversation's slot.
		if err := s.markSent(ctx, m.Key, m.ID); err != nil {
			return err
		}
	}
	return nil
}

func (s *redisStore) markSent(ctx context.Context, key, id string) error {
	if _, err := s.conn.Eval(ctx, markSentScript, []string{s.sentKey(key)}, id, int64(sentTTL/time.Second)); err != nil {
		return fmt.Errorf("conversation store: record that %q sent %q: %w", key, id, err)
	}
	return nil
}

// History implements Store.
func (s *redisStore) History(ctx context.Context, waID string, n int) ([]StoredMessage, error) {
	if n <= 0 {
		return []StoredMessage{}, nil
	}
	v, err := s.conn.Eval(ctx, historyScript, s.convKeys(waID), n)
	if err != nil {
		return nil, fmt.Errorf("conversation store: read history of %q: %w", waID, err)
	}
	recs, ok := v.([]any)
	if !ok && v != nil {
		return nil, fmt.Errorf("conversation store: read history of %q: reply is a %T, want an array", waID, v)
	}
	out := make([]StoredMessage, 0, len(recs))
	for i := len(recs) - 1; i >= 0; i-- { // newest first in Redis, oldest first here
		if recs[i] == nil {
			continue
		}
		m, err := decodeRecord(recs[i])
		if err != nil {
			return nil, fmt.Errorf("conversation store: read history of %q: %w", waID, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// Message implements Store.
func (s *redisStore) Message(ctx context.Context, waID, id string) (StoredMessage, error) {
	v, err := s.conn.Eval(ctx, messageScript, s.convKeys(waID)[1:], id)
	if err != nil {
		return StoredMessage{}, fmt.Errorf("conversation store: read message %q: %w", id, err)
	}
	if v == nil {
		return StoredMessage{}, ErrMessageNotFound
	}
	m, err := decodeRecord(v)
	if err != nil {
		return StoredMessage{}, fmt.Errorf("conversation store: read message %q: %w", id, err)
	}
	return m, nil
}

// UpdateStatus implements Store.
func (s *redisStore) UpdateStatus(ctx context.Context, u StatusUpdate) (bool, error) {
	if u.CallbackData != "" {
		if err := s.markSent(ctx, u.CallbackData, u.MessageID); err != nil {
			return false, err
		}
	}
	v, err := s.conn.Eval(ctx, updateStatusScript, s.convKeys(u.WaID), u.MessageID, u.WaID, u.Status, statusRank(u.Status),
		unixMs(u.At), u.Error, historyLen, int64(storeTTL/time.Second), s.now().UnixMilli(), pendingTTL.Milliseconds())
	if err != nil {
		return false, fmt.Errorf("conversation store: apply status %q to %q: %w", u.Status, u.MessageID, err)
	}
	n, ok := v.(int64)
	if !ok {
		return false, fmt.Errorf("conversation store: apply status %q to %q: reply is a %T, want an integer", u.Status, u.MessageID, v)
	}
	return n == 1, nil
}

// SentMessageID implements Store.
func (s *redisStore) SentMessageID(ctx context.Context, key string) (string, error) {
	v, err := s.conn.Eval(ctx, sentMessageScript, []string{s.sentKey(key)})
	if err != nil {
		return "", fmt.Errorf("conversation store: read what %q sent: %w", key, err)
	}
	if v == nil {
		return "", nil
	}
	id, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("conversation store: read what %q sent: reply is a %T, want a string", key, v)
	}
	return id, nil
}
