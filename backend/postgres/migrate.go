package postgres

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one numbered SQL file.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order.
func migrations() ([]migration, error) {
	ents, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range ents {
		v, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("fila/postgres: migration %s: name must start with its number", e.Name())
		}
		b, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// SchemaVersion is the schema version this code needs: the newest
// embedded migration.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// Migrate creates the schema when missing and applies the migrations it
// lacks, each in a transaction, under an advisory lock so concurrent
// Migrate calls apply each migration once. It refuses a schema newer than
// the code. It returns the versions it applied.
func (b *Backend) Migrate(ctx context.Context) ([]int, error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	h := fnv.New64a()
	h.Write([]byte("fila migrate " + b.opts.Schema))
	key := int64(h.Sum64())
	var applied []int
	err = pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", key); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, b.q(`CREATE SCHEMA IF NOT EXISTS {s};
			CREATE TABLE IF NOT EXISTS {s}.schema_version (version integer NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)); err != nil {
			return err
		}
		var cur int
		if err := tx.QueryRow(ctx, b.q(`SELECT coalesce(max(version), 0) FROM {s}.schema_version`)).Scan(&cur); err != nil {
			return err
		}
		if cur > ms[len(ms)-1].version {
			return fmt.Errorf("%w (database at version %d, code at %d)", ErrSchemaTooNew, cur, ms[len(ms)-1].version)
		}
		for _, m := range ms {
			if m.version <= cur {
				continue
			}
			if _, err := tx.Exec(ctx, strings.ReplaceAll(m.sql, "{{schema}}", b.schema)); err != nil {
				return fmt.Errorf("fila/postgres: migration %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, b.q(`INSERT INTO {s}.schema_version (version) VALUES ($1)`), m.version); err != nil {
				return err
			}
			applied = append(applied, m.version)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return applied, nil
}

// Check verifies that the server answers and the schema is at this code's
// version: ErrNotMigrated when it is missing or behind, ErrSchemaTooNew
// when it is ahead.
func (b *Backend) Check(ctx context.Context) error {
	var reg *string
	if err := b.pool.QueryRow(ctx, `SELECT to_regclass($1)::text`, b.schema+".schema_version").Scan(&reg); err != nil {
		return fmt.Errorf("fila/postgres: cannot reach the database: %w", err)
	}
	if reg == nil {
		return fmt.Errorf("%w (schema %s has no schema_version table)", ErrNotMigrated, b.schema)
	}
	var cur int
	if err := b.pool.QueryRow(ctx, b.q(`SELECT coalesce(max(version), 0) FROM {s}.schema_version`)).Scan(&cur); err != nil {
		return err
	}
	want := SchemaVersion()
	switch {
	case cur < want:
		return fmt.Errorf("%w (database at version %d, code needs %d)", ErrNotMigrated, cur, want)
	case cur > want:
		return fmt.Errorf("%w (database at version %d, code at %d)", ErrSchemaTooNew, cur, want)
	}
	return nil
}
