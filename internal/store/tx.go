package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"

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
	st          *txState
}

// AfterCommit runs f once tx has committed (never if it rolls back), in the
// goroutine that called InTx, before InTx returns. For announcements that
// must not precede the commit: waking a worker for a job tx inserted.
func (tx *Tx) AfterCommit(f func()) { tx.afterCommit = append(tx.afterCommit, f) }

// InTx runs f in a transaction and commits when it returns nil. Inside f,
// use only tx: on SQLite a write through db.Ent waits for the one writer
// connection f holds, and a read through it sees the state before f.
//
// On SQLite, transactions that wait for the writer commit together (see
// group); f may then see writes of transactions that ran just before it
// and have not committed yet, as it would once they had.
func (db *DB) InTx(ctx context.Context, f func(tx *Tx) error) error {
	if db.group != nil {
		return db.group.inTx(ctx, f)
	}
	sqlTx, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	tx := db.bind(sqlTx)
	if err := f(tx); err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	pre, err := runPreCommit(ctx, tx)
	if err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	err = sqlTx.Commit()
	tx.ended(pre, err)
	if err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// bind returns the Tx over sqlTx, its ent client bound to it.
func (db *DB) bind(sqlTx *sql.Tx) *Tx {
	st := &txState{base: db.drv}
	drv := txDriver{Driver: entsql.NewDriver(db.Dialect, entsql.Conn{ExecQuerier: sqlTx}), st: st}
	return &Tx{SQL: sqlTx, Ent: ent.NewClient(ent.Driver(drv)), st: st}
}

// ended records how tx's writes ended (commitErr nil: committed) for its
// entities and the pre-commit write it took, and runs its AfterCommit
// hooks once they have committed.
func (tx *Tx) ended(pre *PreCommit, commitErr error) {
	if commitErr == nil {
		tx.st.committed.Store(true)
	}
	if pre != nil {
		pre.end(commitErr == nil)
	}
	if commitErr != nil {
		return
	}
	for _, f := range tx.afterCommit {
		f()
	}
}

// txDriver is an ent driver over an open *sql.Tx. ent starts its own
// transaction for multi-statement writes; inside ours, that must be a no-op
// joining the outer one, as ent's own Tx client does.
//
// Once the transaction has committed, the driver goes to the database
// instead: rows created or read in the transaction stay usable afterwards
// (a resolver following an edge of a created execution), so callers return
// them as they are instead of reading them back, which cost a query per
// request.
type txDriver struct {
	*entsql.Driver
	st *txState
}

// txState is shared by a transaction's driver and every entity bound to it.
type txState struct {
	committed atomic.Bool
	base      dialect.Driver
}

// live is the driver to use now.
func (d txDriver) live() (dialect.Driver, bool) {
	if d.st.committed.Load() {
		return d.st.base, false
	}
	return d.Driver, true
}

// Exec runs in the transaction, or on the database once it committed.
func (d txDriver) Exec(ctx context.Context, query string, args, v any) error {
	drv, _ := d.live()
	return drv.Exec(ctx, query, args, v)
}

// Query runs in the transaction, or on the database once it committed.
func (d txDriver) Query(ctx context.Context, query string, args, v any) error {
	drv, _ := d.live()
	return drv.Query(ctx, query, args, v)
}

// Tx joins the open transaction (after commit: starts a new one).
func (d txDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	drv, open := d.live()
	if !open {
		return drv.Tx(ctx)
	}
	return dialect.NopTx(drv), nil
}

// BeginTx joins the open transaction (after commit: starts a new one).
func (d txDriver) BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error) {
	drv, open := d.live()
	if !open {
		if b, ok := drv.(interface {
			BeginTx(context.Context, *sql.TxOptions) (dialect.Tx, error)
		}); ok {
			return b.BeginTx(ctx, opts)
		}
		return drv.Tx(ctx)
	}
	return dialect.NopTx(drv), nil
}

// PreCommit is a write a request owes to whichever transaction first
// commits on its behalf (its audit record): done in that transaction, it
// commits with the request's own writes or not at all, and costs no commit
// of its own. See WithPreCommit.
type PreCommit struct {
	f func(ctx context.Context, tx *Tx) error

	mu    sync.Mutex
	done  *sync.Cond
	state preCommitState
}

type preCommitState int

const (
	preFree      preCommitState = iota // no transaction has it
	preRunning                         // a transaction wrote it and has not ended
	preCommitted                       // it committed
	preSealed                          // the request ended first: no transaction takes it
)

type preCommitKey struct{}

// WithPreCommit returns ctx carrying f: the first InTx under ctx (or a
// context derived from it) runs f in its transaction after its own work,
// and commits them together. When the request is over, Seal tells whether
// that happened; if not, the caller writes on its own.
func WithPreCommit(ctx context.Context, f func(ctx context.Context, tx *Tx) error) (context.Context, *PreCommit) {
	p := &PreCommit{f: f}
	p.done = sync.NewCond(&p.mu)
	return context.WithValue(ctx, preCommitKey{}, p), p
}

// Seal ends p at the end of its request: no transaction takes it any more
// (work the request left running in the background, a pack install say,
// would otherwise write it once more, later). It waits for a transaction
// that has written it to end, and reports whether it committed.
func (p *PreCommit) Seal() (committed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.state == preRunning {
		p.done.Wait()
	}
	if p.state == preFree {
		p.state = preSealed
	}
	return p.state == preCommitted
}

// take claims p for a transaction, if no other has it.
func (p *PreCommit) take() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != preFree {
		return false
	}
	p.state = preRunning
	return true
}

// end records how the transaction that took p ended.
func (p *PreCommit) end(committed bool) {
	p.mu.Lock()
	if committed {
		p.state = preCommitted
	} else {
		p.state = preFree
	}
	p.mu.Unlock()
	p.done.Broadcast()
}

// runPreCommit runs the context's pending PreCommit in tx, if any is left.
func runPreCommit(ctx context.Context, tx *Tx) (*PreCommit, error) {
	p, _ := ctx.Value(preCommitKey{}).(*PreCommit)
	if p == nil || !p.take() {
		return nil, nil
	}
	if err := p.f(ctx, tx); err != nil {
		p.end(false)
		return nil, err
	}
	return p, nil
}
