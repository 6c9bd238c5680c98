package store

import (
	"context"
	"database/sql"
	"fmt"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/attune-io/attune/ent"
)

// Tx is one database transaction seen two ways: the *sql.Tx (for River's
// InsertTx, so a job commits with the row it serves) and an ent client
// bound to it.
type Tx struct {
	SQL *sql.Tx
	Ent *ent.Client

	afterCommit []func()
}

// AfterCommit runs f once tx has committed (never if it rolls back), in the
// goroutine that called InTx, before InTx returns. For announcements that
// must not precede the commit: waking a worker for a job tx inserted.
func (tx *Tx) AfterCommit(f func()) { tx.afterCommit = append(tx.afterCommit, f) }

// InTx runs f in a transaction and commits when it returns nil. On SQLite
// the pool has one connection: inside f, use only tx, never db.Ent, or the
// call waits for the connection f holds.
func (db *DB) InTx(ctx context.Context, f func(tx *Tx) error) error {
	sqlTx, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	drv := txDriver{entsql.NewDriver(db.Dialect, entsql.Conn{ExecQuerier: sqlTx})}
	tx := &Tx{SQL: sqlTx, Ent: ent.NewClient(ent.Driver(drv))}
	if err := f(tx); err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	for _, f := range tx.afterCommit {
		f()
	}
	return nil
}

// txDriver is an ent driver over an open *sql.Tx. ent starts its own
// transaction for multi-statement writes; inside ours, that must be a no-op
// joining the outer one, as ent's own Tx client does.
type txDriver struct{ *entsql.Driver }

// Tx joins the open transaction.
func (d txDriver) Tx(context.Context) (dialect.Tx, error) { return dialect.NopTx(d.Driver), nil }

// BeginTx joins the open transaction.
func (d txDriver) BeginTx(context.Context, *sql.TxOptions) (dialect.Tx, error) {
	return dialect.NopTx(d.Driver), nil
}
