package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// Handler is what store code needs to run queries; both *DB (and *sqlx.DB)
// and *sqlx.Tx satisfy it, so one method works inside or outside a
// transaction. Callers map errors with MapError.
type Handler interface {
	sqlx.ExtContext
	sqlx.PreparerContext

	// GetContext scans one row into dest; no row yields sql.ErrNoRows.
	GetContext(ctx context.Context, dest any, query string, args ...any) error
	// SelectContext scans all rows into the slice dest.
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
	// NamedExecContext executes a query with :name parameters bound from arg.
	NamedExecContext(ctx context.Context, query string, arg any) (sql.Result, error)
	// QueryRowContext runs a query expected to return at most one row.
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	// PreparexContext prepares a statement bound to the handler.
	PreparexContext(ctx context.Context, query string) (*sqlx.Stmt, error)
	// PrepareNamedContext prepares a statement with :name parameters.
	PrepareNamedContext(ctx context.Context, query string) (*sqlx.NamedStmt, error)
}

var (
	_ Handler = (*DB)(nil)
	_ Handler = (*sqlx.DB)(nil)
	_ Handler = (*sqlx.Tx)(nil)
)

// InTx runs fn in a transaction with the default isolation level
// (REPEATABLE READ on InnoDB). It commits when fn returns nil and rolls back
// when fn returns an error or panics (the panic is re-raised). Errors from
// begin and commit are passed through MapError; fn's error is returned as is.
func (d *DB) InTx(ctx context.Context, fn func(tx Handler) error) error {
	return d.InTxOptions(ctx, nil, fn)
}

// InTxOptions is InTx with explicit transaction options (isolation level,
// read-only); nil opts means the driver defaults.
func (d *DB) InTxOptions(ctx context.Context, opts *sql.TxOptions, fn func(tx Handler) error) (err error) {
	tx, err := d.BeginTxx(ctx, opts)
	if err != nil {
		return fmt.Errorf("store: begin transaction: %w", MapError(err))
	}
	committed := false
	defer func() {
		if committed {
			return
		}
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) && err != nil {
			err = errors.Join(err, fmt.Errorf("store: roll back transaction: %w", rbErr))
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		committed = true // Commit ends the transaction whatever its outcome.
		return fmt.Errorf("store: commit transaction: %w", MapError(err))
	}
	committed = true
	return nil
}
