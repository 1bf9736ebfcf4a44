package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend/postgres"
)

// openPostgres connects to url, migrates fila's schema (the bench's
// database is the bench's: use a database of its own) and returns the
// backend (claims: its Options.ClaimConcurrency, 0 for the default) and
// the pool the footprint scenario reads sizes through.
func openPostgres(ctx context.Context, url string, claims int) (*postgres.Backend, *pgxpool.Pool, func(), error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("-postgres: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = 120 // process at concurrency 100 claims on that many connections at once
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("-postgres: %w", err)
	}
	be := postgres.New(pool, postgres.Options{ClaimConcurrency: claims})
	if _, err := be.Migrate(ctx); err != nil {
		pool.Close()
		return nil, nil, nil, fmt.Errorf("-postgres: migrate: %w", err)
	}
	return be, pool, func() { _ = be.Close(); pool.Close() }, nil
}

// pgTables are fila's tables whose rows and bytes the footprint counts.
var pgTables = []string{"jobs", "events", "logs", "dedup", "limiter", "metrics", "queues", "stalled_checks"}

// pgFootprint returns the rows and total bytes (heap, indexes, TOAST) of
// fila's tables, after a VACUUM so freed space does not count.
func pgFootprint(ctx context.Context, pool *pgxpool.Pool) (rows, bytes int64, err error) {
	for _, t := range pgTables {
		if _, err := pool.Exec(ctx, "VACUUM fila."+t); err != nil {
			return 0, 0, err
		}
		var n, sz int64
		if err := pool.QueryRow(ctx, "SELECT count(*), pg_total_relation_size('fila."+t+"') FROM fila."+t).Scan(&n, &sz); err != nil {
			return 0, 0, err
		}
		rows, bytes = rows+n, bytes+sz
	}
	return rows, bytes, nil
}

// pgStorage: bytes per waiting job with a 100-byte payload (20,000 jobs,
// events included), and rows per finished job once 20,000 have run with
// the default retention (the newest 1,000 completed kept; events kept an
// hour).
func (b *bench) pgStorage(ctx context.Context) (result, error) {
	const n = 20000
	payload := []byte(`{"p":"` + strings.Repeat("x", 92) + `"}`)
	q := b.queue()
	rows0, bytes0, err := pgFootprint(ctx, b.pg)
	if err != nil {
		return result{}, err
	}
	a := take(ctx, nil)
	for i := 0; i < n; i += 1000 {
		chunk := make([]fila.BulkJob, 1000)
		for j := range chunk {
			chunk[j] = fila.BulkJob{Name: "job", Data: payload}
		}
		if _, err := q.AddBulk(ctx, chunk); err != nil {
			return result{}, err
		}
	}
	_, bytes1, err := pgFootprint(ctx, b.pg)
	if err != nil {
		return result{}, err
	}
	stop, err := b.runWorkers(q, 1, fila.WorkerOptions{Concurrency: 10}, func(context.Context, *fila.Job) (any, error) { return nil, nil })
	if err != nil {
		return result{}, err
	}
	for {
		c, err := q.Counts(ctx)
		if err != nil {
			stop()
			return result{}, err
		}
		if c.Waiting+c.Active == 0 {
			break
		}
	}
	stop()
	z := take(ctx, nil)
	rows2, bytes2, err := pgFootprint(ctx, b.pg)
	if err != nil {
		return result{}, err
	}
	r := result{Scenario: "memory", Variant: "postgres: 20,000 waiting jobs (100-byte payload), then run", Concurrency: 10, Jobs: n}
	b.finish(ctx, q, &r, a, z)
	r.Extra = map[string]float64{
		"bytes_per_waiting_job":      float64(bytes1-bytes0) / n,
		"rows_per_finished_job":      float64(rows2-rows0) / n,
		"bytes_per_finished_job":     float64(bytes2-bytes0) / n,
		"rows_kept_after_20000_jobs": float64(rows2 - rows0),
	}
	return r, nil
}
