package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/postgres"
)

// envPostgresURL names the variable read when -postgres is not given (and
// -redis is not either).
const envPostgresURL = "FILA_POSTGRES_URL"

// postgresUsage explains, in the top-level usage, how to reach PostgreSQL.
const postgresUsage = `
PostgreSQL:
  -postgres URL (or $FILA_POSTGRES_URL) uses the PostgreSQL backend, with
  fila's tables in the schema -schema (default fila). Run 'fila migrate
  -postgres URL' once (and after upgrading fila) to create or upgrade them;
  other commands refuse a database that was not migrated.
`

// openPostgres connects to a PostgreSQL target. Every command but migrate
// checks that the schema is at this fila's version.
func openPostgres(ctx context.Context, t storeTarget) (backend.Backend, func() error, error) {
	pool, err := pgxpool.New(ctx, t.postgres)
	if err != nil {
		return nil, nil, fmt.Errorf("fila: postgres URL %s: %w", redactURL(t.postgres), err)
	}
	be := postgres.New(pool, postgres.Options{Schema: t.schema})
	closeAll := func() error {
		_ = be.Close()
		pool.Close()
		return nil
	}
	if !t.migrate {
		if err := be.Check(ctx); err != nil {
			_ = closeAll()
			return nil, nil, fmt.Errorf("fila: %s: %w", redactURL(t.postgres), err)
		}
	}
	return be, closeAll, nil
}

func migrateCommand() *command {
	return &command{
		name: "migrate", summary: "create or upgrade fila's tables in a PostgreSQL database (-postgres)",
		detail: "Applies the migrations this fila has and the database lacks, each in a transaction,\n" +
			"under an advisory lock (concurrent runs apply each once). A schema newer than this fila is refused.",
		maxArgs: 0,
		run: func(ctx context.Context, e *env, _ []string) error {
			pg, ok := e.be.(*postgres.Backend)
			if !ok {
				return errors.New("fila migrate: only the PostgreSQL backend has migrations: give -postgres URL (or $FILA_POSTGRES_URL)")
			}
			applied, err := pg.Migrate(ctx)
			if err != nil {
				return fmt.Errorf("fila migrate: %w", err)
			}
			if len(applied) == 0 {
				fmt.Fprintf(e.out, "schema %q is up to date (version %d)\n", e.opt.schema, postgres.SchemaVersion())
				return nil
			}
			fmt.Fprintf(e.out, "schema %q migrated to version %d (applied %v)\n", e.opt.schema, postgres.SchemaVersion(), applied)
			return nil
		},
	}
}
