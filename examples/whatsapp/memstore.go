package main

import (
	"context"
	"sync"
	"time"
)

// memoryStore is the in-process Store of the memory backend. It forgets
// with the process, like the jobs.
type memoryStore struct {
	now func() time.Time

	mu        sync.Mutex
	messages  map[string]*memMessage // by ID
	convs     map[string][]string    // by WhatsApp ID: message IDs, oldest first, at most historyLen
	sent      map[string]sentMark    // by send job key
	nextSweep time.Time
}

type memMessage struct {
	StoredMessage
	listed  bool      // in a conversation; false: a receipt that came first
	touched time.Time // when an unlisted message was created
}

type sentMark struct {
	id      string
	expires time.Time
}

// pendingTTL is how long a receipt for a message not saved yet is kept.
const pendingTTL = time.Hour

func newMemoryStore() *memoryStore {
	return &memoryStore{
		now:      time.Now,
		messages: map[string]*memMessage{}, convs: map[string][]string{}, sent: map[string]sentMark{},
	}
}

// SaveMessage implements Store.
func (s *memoryStore) SaveMessage(_ context.Context, m StoredMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep()
	cur := s.messages[m.ID]
	if cur == nil {
		cur = &memMessage{}
		s.messages[m.ID] = cur
	}
	status, statusAt, errText := cur.Status, cur.StatusAt, cur.Error
	cur.StoredMessage = m
	if statusRank(status) > statusRank(m.Status) {
		cur.Status, cur.StatusAt, cur.Error = status, statusAt, errText
	}
	if !cur.listed {
		cur.listed = true
		ids := append(s.convs[m.WaID], m.ID)
		for len(ids) > historyLen {
			delete(s.messages, ids[0])
			ids = ids[1:]
		}
		s.convs[m.WaID] = ids
	}
	if m.Key != "" {
		if _, ok := s.sent[m.Key]; !ok {
			s.sent[m.Key] = sentMark{id: m.ID, expires: s.now().Add(sentTTL)}
		}
	}
	return nil
}

// History implements Store.
func (s *memoryStore) History(_ context.Context, waID string, n int) ([]StoredMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		return []StoredMessage{}, nil
	}
	ids := s.convs[waID]
	ids = ids[max(len(ids)-n, 0):]
	out := make([]StoredMessage, 0, len(ids))
	for _, id := range ids {
		out = append(out, s.messages[id].StoredMessage)
	}
	return out, nil
}

// Message implements Store.
func (s *memoryStore) Message(_ context.Context, _, id string) (StoredMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.messages[id]
	if m == nil {
		return StoredMessage{}, ErrMessageNotFound
	}
	return m.StoredMessage, nil
}

// UpdateStatus implements Store.
func (s *memoryStore) UpdateStatus(_ context.Context, u StatusUpdate) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep()
	if u.CallbackData != "" {
		if _, ok := s.sent[u.CallbackData]; !ok {
			s.sent[u.CallbackData] = sentMark{id: u.MessageID, expires: s.now().Add(sentTTL)}
		}
	}
	m := s.messages[u.MessageID]
	if m == nil {
		m = &memMessage{StoredMessage: StoredMessage{ID: u.MessageID, WaID: u.WaID, Direction: Outbound}, touched: s.now()}
		s.messages[u.MessageID] = m
	}
	if statusRank(u.Status) <= statusRank(m.Status) {
		return false, nil
	}
	m.Status, m.StatusAt, m.Error = u.Status, u.At, u.Error
	return true, nil
}

// SentMessageID implements Store.
func (s *memoryStore) SentMessageID(_ context.Context, key string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.sent[key]; ok && m.expires.After(s.now()) {
		return m.id, nil
	}
	return "", nil
}

// sweep drops expired send marks and receipts whose message never came,
// at most once a minute; s.mu must be held.
func (s *memoryStore) sweep() {
	now := s.now()
	if now.Before(s.nextSweep) {
		return
	}
	s.nextSweep = now.Add(time.Minute)
	for k, m := range s.sent {
		if !m.expires.After(now) {
			delete(s.sent, k)
		}
	}
	for id, m := range s.messages {
		if !m.listed && now.Sub(m.touched) > pendingTTL {
			delete(s.messages, id)
		}
	}
}
