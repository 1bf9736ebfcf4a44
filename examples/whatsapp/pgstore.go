package main

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgStore is the conversation Store on PostgreSQL, beside the jobs of the
// postgres backend, in tables of its own schema.
type pgStore struct {
	pool   *pgxpool.Pool
	schema string // quoted

	mu        sync.Mutex
	nextSweep time.Time
}

// newPgStore creates the store's tables in schema when missing (the
// example's own tables; fila's come from its migrations).
func newPgStore(ctx context.Context, pool *pgxpool.Pool, schema string) (*pgStore, error) {
	s := &pgStore{pool: pool, schema: pgx.Identifier{schema}.Sanitize()}
	_, err := pool.Exec(ctx, s.q(`
		CREATE SCHEMA IF NOT EXISTS {s};
		CREATE SEQUENCE IF NOT EXISTS {s}.message_seq;
		CREATE TABLE IF NOT EXISTS {s}.messages (
			id text PRIMARY KEY, wa_id text NOT NULL, direction text NOT NULL, type text NOT NULL DEFAULT '',
			text text NOT NULL DEFAULT '', at timestamptz, key text NOT NULL DEFAULT '',
			status text NOT NULL DEFAULT '', status_rank int NOT NULL DEFAULT 0, status_at timestamptz, error text NOT NULL DEFAULT '',
			listed boolean NOT NULL DEFAULT false, seq bigint, touched timestamptz NOT NULL DEFAULT now());
		CREATE INDEX IF NOT EXISTS messages_conv ON {s}.messages (wa_id, seq) WHERE listed;
		CREATE TABLE IF NOT EXISTS {s}.sent (key text PRIMARY KEY, id text NOT NULL, expires timestamptz NOT NULL);`))
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (s *pgStore) q(sql string) string {
	out := []byte{}
	for i := 0; i < len(sql); i++ {
		if i+2 < len(sql) && sql[i:i+3] == "{s}" {
			out = append(out, s.schema...)
			i += 2
			continue
		}
		out = append(out, sql[i])
	}
	return string(out)
}

// SaveMessage implements Store.
func (s *pgStore) SaveMessage(ctx context.Context, m StoredMessage) error {
	s.sweep(ctx)
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, s.q(`
			INSERT INTO {s}.messages AS o (id, wa_id, direction, type, text, at, key, status, status_rank, status_at, error, listed, seq)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, true, nextval('{s}.message_seq'))
			ON CONFLICT (id) DO UPDATE SET wa_id = EXCLUDED.wa_id, direction = EXCLUDED.direction, type = EXCLUDED.type,
				text = EXCLUDED.text, at = EXCLUDED.at, key = EXCLUDED.key, listed = true,
				seq = CASE WHEN o.listed THEN o.seq ELSE EXCLUDED.seq END,
				status = CASE WHEN o.status_rank > EXCLUDED.status_rank THEN o.status ELSE EXCLUDED.status END,
				status_at = CASE WHEN o.status_rank > EXCLUDED.status_rank THEN o.status_at ELSE EXCLUDED.status_at END,
				error = CASE WHEN o.status_rank > EXCLUDED.status_rank THEN o.error ELSE EXCLUDED.error END,
				status_rank = greatest(o.status_rank, EXCLUDED.status_rank)`),
			m.ID, m.WaID, string(m.Direction), m.Type, m.Text, m.At, m.Key, m.Status, statusRank(m.Status), nullTime(m.StatusAt), m.Error)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, s.q(`DELETE FROM {s}.messages WHERE listed AND wa_id = $1 AND seq <= (
			SELECT seq FROM {s}.messages WHERE listed AND wa_id = $1 ORDER BY seq DESC OFFSET $2 LIMIT 1)`), m.WaID, historyLen); err != nil {
			return err
		}
		if m.Key == "" {
			return nil
		}
		_, err = tx.Exec(ctx, s.q(`INSERT INTO {s}.sent (key, id, expires) VALUES ($1, $2, now() + $3::float8 * interval '1 second')
			ON CONFLICT (key) DO UPDATE SET id = EXCLUDED.id, expires = EXCLUDED.expires WHERE {s}.sent.expires <= now()`),
			m.Key, m.ID, sentTTL.Seconds())
		return err
	})
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

const pgMessageCols = `id, wa_id, direction, type, text, at, key, status, status_at, error`

func scanPgMessage(row pgx.Row) (StoredMessage, error) {
	var m StoredMessage
	var dir string
	var at, statusAt *time.Time
	if err := row.Scan(&m.ID, &m.WaID, &dir, &m.Type, &m.Text, &at, &m.Key, &m.Status, &statusAt, &m.Error); err != nil {
		return m, err
	}
	m.Direction = Direction(dir)
	if at != nil {
		m.At = *at
	}
	if statusAt != nil {
		m.StatusAt = *statusAt
	}
	return m, nil
}

// History implements Store.
func (s *pgStore) History(ctx context.Context, waID string, n int) ([]StoredMessage, error) {
	out := []StoredMessage{}
	if n <= 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, s.q(`SELECT `+pgMessageCols+` FROM {s}.messages WHERE listed AND wa_id = $1 ORDER BY seq DESC LIMIT $2`), waID, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanPgMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	slices.Reverse(out)
	return out, rows.Err()
}

// Message implements Store.
func (s *pgStore) Message(ctx context.Context, _, id string) (StoredMessage, error) {
	m, err := scanPgMessage(s.pool.QueryRow(ctx, s.q(`SELECT `+pgMessageCols+` FROM {s}.messages WHERE id = $1`), id))
	if errors.Is(err, pgx.ErrNoRows) {
		return StoredMessage{}, ErrMessageNotFound
	}
	return m, err
}

// UpdateStatus implements Store.
func (s *pgStore) UpdateStatus(ctx context.Context, u StatusUpdate) (bool, error) {
	s.sweep(ctx)
	var applied bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if u.CallbackData != "" {
			if _, err := tx.Exec(ctx, s.q(`INSERT INTO {s}.sent (key, id, expires) VALUES ($1, $2, now() + $3::float8 * interval '1 second')
				ON CONFLICT (key) DO UPDATE SET id = EXCLUDED.id, expires = EXCLUDED.expires WHERE {s}.sent.expires <= now()`),
				u.CallbackData, u.MessageID, sentTTL.Seconds()); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, s.q(`INSERT INTO {s}.messages (id, wa_id, direction) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`),
			u.MessageID, u.WaID, string(Outbound)); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, s.q(`UPDATE {s}.messages SET status = $2, status_rank = $3, status_at = $4, error = $5
			WHERE id = $1 AND status_rank < $3`), u.MessageID, u.Status, statusRank(u.Status), nullTime(u.At), u.Error)
		applied = err == nil && tag.RowsAffected() == 1
		return err
	})
	return applied, err
}

// SentMessageID implements Store.
func (s *pgStore) SentMessageID(ctx context.Context, key string) (string, error) {
	var id string
	err := s.pool.QueryRow(ctx, s.q(`SELECT id FROM {s}.sent WHERE key = $1 AND expires > now()`), key).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return id, err
}

// sweep drops expired send marks and receipts whose message never came,
// at most once a minute.
func (s *pgStore) sweep(ctx context.Context) {
	s.mu.Lock()
	now := time.Now()
	due := !now.Before(s.nextSweep)
	if due {
		s.nextSweep = now.Add(time.Minute)
	}
	s.mu.Unlock()
	if !due {
		return
	}
	_, _ = s.pool.Exec(ctx, s.q(`DELETE FROM {s}.sent WHERE expires <= now()`))
	_, _ = s.pool.Exec(ctx, s.q(`DELETE FROM {s}.messages WHERE NOT listed AND touched < now() - $1::float8 * interval '1 second'`), pendingTTL.Seconds())
}
