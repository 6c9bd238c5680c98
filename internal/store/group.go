package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
)

// group is SQLite's group commit. SQLite has one writer, so transactions
// that arrive together wait for each other anyway; instead of each paying
// its own BEGIN and COMMIT (the commit writes every page the transaction
// dirtied to the log, and concurrent transactions dirty the same last
// pages of the same tables and indexes), they run one after the other in
// one database transaction, each in its own savepoint, and commit together.
//
// A member runs f in its own goroutine while it holds the turn. When it is
// done and another member waits for the turn, it leaves the transaction
// open for that one and waits for the commit; the last member (none
// waiting, or the group full) commits. A member whose f fails is rolled
// back to its savepoint and returns at once; the others are unaffected.
// InTx's contract is unchanged: f's writes commit when it returns nil,
// and AfterCommit hooks run in the caller's goroutine once they have.
type group struct {
	db *DB

	waiting atomic.Int32 // members waiting for the turn
	turn    sync.Mutex   // held by the member running
	open    *groupTx     // the transaction the next member joins; guarded by turn
}

// groupMax bounds the members of one transaction, and with it how long the
// first waits for the commit.
const groupMax = 16

// groupTx is one database transaction of a group.
type groupTx struct {
	sql     *sql.Tx
	members int
	ended   bool          // committed or rolled back; guarded by the turn
	err     error         // why it did not commit, set before done closes
	done    chan struct{} // closed when it has ended
}

// memberCtx is the context of the group's own statements (BEGIN, SAVEPOINT,
// RELEASE), which serve every member: database/sql refuses a statement
// whose context has ended and rolls back a transaction whose BeginTx
// context ends, and either would take the other members' work with it. The
// members' own statements run on in the driver (see keepRunning).
func memberCtx(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// inTx is InTx on SQLite.
func (g *group) inTx(ctx context.Context, f func(tx *Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	g.waiting.Add(1)
	g.turn.Lock()
	g.waiting.Add(-1)
	gt, err := g.join(ctx)
	if err != nil {
		g.leave(gt)
		return err
	}
	tx := g.db.bind(gt.sql)

	pre, ferr, panicked := runMember(ctx, tx, f)
	if ferr != nil || panicked != nil {
		g.rollbackMember(gt)
	} else if _, err := gt.sql.ExecContext(memberCtx(ctx), "RELEASE attune_member"); err != nil {
		ferr = fmt.Errorf("committing: %w", err)
		g.abort(gt, ferr)
	}
	g.leave(gt)
	if ferr != nil || panicked != nil {
		if pre != nil {
			pre.end(false)
		}
		if panicked != nil {
			panic(panicked)
		}
		return ferr
	}
	<-gt.done
	tx.ended(pre, gt.err)
	if gt.err != nil {
		return fmt.Errorf("committing: %w", gt.err)
	}
	return nil
}

// join returns the open transaction, beginning one if none is, with a
// savepoint for the new member. The caller holds the turn.
func (g *group) join(ctx context.Context) (*groupTx, error) {
	gt := g.open
	if gt == nil {
		sqlTx, err := g.db.SQL.BeginTx(memberCtx(ctx), nil)
		if err != nil {
			return nil, fmt.Errorf("beginning transaction: %w", err)
		}
		gt = &groupTx{sql: sqlTx, done: make(chan struct{})}
		g.open = gt
	}
	gt.members++
	if _, err := gt.sql.ExecContext(memberCtx(ctx), "SAVEPOINT attune_member"); err != nil {
		err = fmt.Errorf("beginning transaction: %w", err)
		g.abort(gt, err)
		return gt, err
	}
	return gt, nil
}

// runMember runs f and the context's pre-commit write in tx, recovering a
// panic so the group can be left in order before it is raised again.
func runMember(ctx context.Context, tx *Tx, f func(tx *Tx) error) (pre *PreCommit, err error, panicked any) {
	defer func() {
		if r := recover(); r != nil {
			panicked = r
		}
	}()
	if err := f(tx); err != nil {
		return nil, err, nil
	}
	pre, err = runPreCommit(ctx, tx)
	return pre, err, nil
}

// rollbackMember undoes the running member's writes. If the savepoint is
// gone (an error that ends the whole transaction, as a full disk does),
// the transaction is rolled back and its other members fail too.
func (g *group) rollbackMember(gt *groupTx) {
	if gt.ended {
		return
	}
	ctx := context.Background()
	if _, err := gt.sql.ExecContext(ctx, "ROLLBACK TO attune_member"); err != nil {
		g.abort(gt, fmt.Errorf("transaction rolled back by a failed write: %w", err))
		return
	}
	if _, err := gt.sql.ExecContext(ctx, "RELEASE attune_member"); err != nil {
		g.abort(gt, fmt.Errorf("transaction rolled back by a failed write: %w", err))
	}
}

// abort rolls gt back: every member still waiting for it gets err.
func (g *group) abort(gt *groupTx, err error) {
	if gt.ended {
		return
	}
	_ = gt.sql.Rollback()
	gt.err, gt.ended = err, true
	if g.open == gt {
		g.open = nil
	}
	close(gt.done)
}

// leave ends the running member's turn: it commits gt when no member waits
// or gt is full, else leaves it to the next member.
func (g *group) leave(gt *groupTx) {
	if gt != nil && !gt.ended && (g.waiting.Load() == 0 || gt.members >= groupMax) {
		g.open = nil
		gt.err, gt.ended = gt.sql.Commit(), true
		close(gt.done)
	}
	g.turn.Unlock()
}
