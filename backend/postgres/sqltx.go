package postgres

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jackc/pgx/v5"
)

// Transactional enqueue with database/sql: for applications whose
// transactions are *sql.Tx (pgx's stdlib driver, "github.com/jackc/pgx/v5/stdlib",
// e.g. stdlib.OpenDBFromPool(be.Pool())).

type sqlTxKey struct{}

// WithSQLTx is WithTx for a database/sql transaction: fila's Queue.Add and
// AddBulk on a postgres Backend run inside tx, so the job exists only if tx
// commits, and blocked workers wake when it does:
//
//	tx, _ := db.BeginTx(ctx, nil) // db from stdlib.OpenDBFromPool(pool)
//	// ... the caller's own writes in tx ...
//	q.Add(postgres.WithSQLTx(ctx, tx), "send", data, nil)
//	tx.Commit()
//
// Only adds use the transaction (a handler completes its job in its own
// *sql.Tx with CompleteSQLTx). The jobs are added one statement each
// (database/sql has no pipelined batch), so a large AddBulk is slower than
// with WithTx.
func WithSQLTx(ctx context.Context, tx *sql.Tx) context.Context {
	return context.WithValue(ctx, sqlTxKey{}, tx)
}

// CompleteSQLTx is CompleteTx for a database/sql transaction: the job's
// completion commits (or rolls back) with the handler's writes in tx.
func (b *Backend) CompleteSQLTx(ctx context.Context, tx *sql.Tx, queue, id string, result []byte) error {
	return b.completeTxIn(ctx, sqlTxQuerier{tx}, queue, id, result)
}

func sqlTxFrom(ctx context.Context) *sql.Tx {
	tx, _ := ctx.Value(sqlTxKey{}).(*sql.Tx)
	return tx
}

// rowQuerier is what adding jobs needs: one row per statement.
type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// sqlTxQuerier runs the add's statements on a *sql.Tx.
type sqlTxQuerier struct{ tx *sql.Tx }

func (s sqlTxQuerier) QueryRow(ctx context.Context, query string, args ...any) pgx.Row {
	return sqlRow{s.tx.QueryRowContext(ctx, query, args...)}
}

// sqlRow reports database/sql's ErrNoRows as pgx's, which the add checks.
type sqlRow struct{ r *sql.Row }

func (r sqlRow) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return pgx.ErrNoRows
	}
	return err
}
