package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/action"
	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/store"
)

// TestMigrationsMatchSchema fails when ent/schema changed without a
// regenerated migration: after applying migrations/, ent finds nothing to do.
func TestMigrationsMatchSchema(t *testing.T) {
	t.Parallel()
	// Not dbtest.Run: ent's schema diff writes package-level tables, so the
	// two backends take turns.
	for _, backend := range dbtest.Backends {
		t.Run(backend, func(t *testing.T) { migrationsMatchSchema(t, backend) })
	}
}

func migrationsMatchSchema(t *testing.T, backend string) {
	db := dbtest.Open(t, backend)
	var buf bytes.Buffer
	require.NoError(t, db.Ent.Schema.WriteTo(t.Context(), &buf))
	var changes []string
	for _, l := range strings.Split(buf.String(), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l == "BEGIN;" || l == "COMMIT;" {
			continue
		}
		changes = append(changes, l)
	}
	require.Empty(t, changes, "ent schema and migrations differ; run make generate")
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		db := dbtest.Open(t, backend)
		require.NoError(t, db.Migrate(t.Context()))
		pending, err := db.Pending(t.Context())
		require.NoError(t, err)
		require.Empty(t, pending)
	})
}

func TestInTxRollsBack(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		db := dbtest.Open(t, backend)
		boom := errors.New("boom")
		err := db.InTx(t.Context(), func(tx *store.Tx) error {
			tx.Ent.Pack.Create().SetRef("rolled").SaveX(t.Context())
			return boom
		})
		require.ErrorIs(t, err, boom)
		require.Zero(t, db.Ent.Pack.Query().CountX(t.Context()))
		require.NoError(t, db.InTx(t.Context(), func(tx *store.Tx) error {
			return tx.Ent.Pack.Create().SetRef("kept").Exec(t.Context())
		}))
		require.Equal(t, 1, db.Ent.Pack.Query().CountX(t.Context()))
	})
}

// TestEntitiesOfACommittedTxStayUsable: a row created in a transaction is
// returned as it is (no read-back), so after the commit its edges and its
// updates must go to the database, not to the finished transaction.
func TestEntitiesOfACommittedTxStayUsable(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		db := dbtest.Open(t, backend)
		ctx := t.Context()
		var act *ent.Action
		require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
			p := tx.Ent.Pack.Create().SetRef("kept").SaveX(ctx)
			act = tx.Ent.Action.Create().SetRef("kept.a").SetPackRef("kept").SetPack(p).
				SetRunnerType(action.RunnerTypeSHELL).SetEntryPoint("a.sh").SaveX(ctx)
			return nil
		}))
		p, err := act.QueryPack().Only(ctx)
		require.NoError(t, err, "an edge of a committed transaction's entity")
		require.Equal(t, "kept", p.Ref)
		require.NoError(t, act.Update().SetLabel("after").Exec(ctx), "an update through it")
		require.Equal(t, "after", db.Ent.Action.GetX(ctx, act.ID).Label)

		// A rolled-back transaction's entities do not leak into the database.
		boom := errors.New("boom")
		var gone *ent.Pack
		require.ErrorIs(t, db.InTx(ctx, func(tx *store.Tx) error {
			gone = tx.Ent.Pack.Create().SetRef("gone").SaveX(ctx)
			return boom
		}), boom)
		_, err = gone.QueryActions().All(ctx)
		require.Error(t, err, "the transaction is over and never committed")
	})
}

// TestPreCommitCommitsWithTheFirstTransaction: a request's owed write goes
// into the first transaction that commits under its context, and only
// there; a transaction that rolls back leaves it owed.
func TestPreCommitCommitsWithTheFirstTransaction(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		db := dbtest.Open(t, backend)
		ran := 0
		ctx, pre := store.WithPreCommit(t.Context(), func(ctx context.Context, tx *store.Tx) error {
			ran++
			return tx.Ent.Pack.Create().SetRef("owed").Exec(ctx)
		})
		boom := errors.New("boom")
		require.ErrorIs(t, db.InTx(ctx, func(*store.Tx) error { return boom }), boom)
		require.Zero(t, ran, "a failing transaction does not take it")

		require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
			return tx.Ent.Pack.Create().SetRef("own").Exec(ctx)
		}))
		require.True(t, pre.Seal())
		require.NoError(t, db.InTx(ctx, func(*store.Tx) error { return nil }))
		require.NoError(t, db.InTx(t.Context(), func(*store.Tx) error { return nil }))
		require.Equal(t, 1, ran, "taken once")
		require.ElementsMatch(t, []string{"own", "owed"}, db.Ent.Pack.Query().Select("ref").StringsX(t.Context()))

		// An owed write that fails fails its transaction: neither commits.
		ctx, pre = store.WithPreCommit(t.Context(), func(context.Context, *store.Tx) error { return boom })
		require.ErrorIs(t, db.InTx(ctx, func(tx *store.Tx) error {
			return tx.Ent.Pack.Create().SetRef("lost").Exec(ctx)
		}), boom)
		require.False(t, pre.Seal(), "nothing committed it")
		require.Equal(t, 2, db.Ent.Pack.Query().CountX(t.Context()))

		// Sealed at the end of its request: work the request left running
		// (a pack install) writes it no more.
		ran = 0
		ctx, pre = store.WithPreCommit(t.Context(), func(ctx context.Context, tx *store.Tx) error {
			ran++
			return nil
		})
		require.False(t, pre.Seal())
		require.NoError(t, db.InTx(ctx, func(*store.Tx) error { return nil }))
		require.Zero(t, ran)
	})
}

// TestSQLiteLogIsCheckpointedOffTheWriter: the write-ahead log is copied
// back into the database file by the checkpointer's own connection, not by
// the one connection every write waits for (whose own checkpoints start
// only far past the usual log size).
func TestSQLiteLogIsCheckpointedOffTheWriter(t *testing.T) {
	t.Parallel()
	path := dbtest.URL(t, "sqlite")
	db, err := store.Open(t.Context(), path, "")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	require.NoError(t, db.Migrate(t.Context()))

	var auto int
	require.NoError(t, db.SQL.QueryRowContext(t.Context(), "PRAGMA wal_autocheckpoint").Scan(&auto))
	require.Greater(t, auto, 10000, "the writer does not checkpoint at SQLite's default 1,000 pages")

	before, err := os.Stat(path)
	require.NoError(t, err)
	// About 2,000 pages of rows: past SQLite's default, far below the writer's.
	require.NoError(t, db.InTx(t.Context(), func(tx *store.Tx) error {
		for i := range 2000 {
			if err := tx.Ent.Pack.Create().SetRef(fmt.Sprintf("p%d", i)).SetDescription(strings.Repeat("x", 3000)).Exec(t.Context()); err != nil {
				return err
			}
		}
		return nil
	}))
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := os.Stat(path)
		require.NoError(t, err)
		if st.Size() >= before.Size()+4<<20 {
			break // the rows reached the database file
		}
		require.True(t, time.Now().Before(deadline), "the log was never checkpointed: %d bytes, %d before", st.Size(), before.Size())
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond) // polling a file's size; nothing to wait on
	}
}

// TestSQLiteSavepointJournalsStayInMemory: the writer keeps the journals
// of savepoints and statements (every member of a group commit runs in a
// savepoint) in memory; SQLite's default spills them past 64 KiB to
// temporary files, a write system call per page.
func TestSQLiteSavepointJournalsStayInMemory(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, "sqlite")
	var store2 int
	require.NoError(t, db.InTx(t.Context(), func(tx *store.Tx) error {
		rows, err := tx.Ent.QueryContext(t.Context(), "PRAGMA temp_store")
		if err != nil {
			return err
		}
		defer rows.Close()
		require.True(t, rows.Next())
		return rows.Scan(&store2)
	}))
	require.Equal(t, 2, store2, "PRAGMA temp_store on the writer: 2 is MEMORY")
}

// TestReadsDoNotWaitForAWriteTransaction: a read outside a transaction
// sees the last committed state at once, even while a write transaction
// is open (on SQLite, whose one writer connection every read used to wait
// for, it now comes from a read-only connection).
func TestReadsDoNotWaitForAWriteTransaction(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		db := dbtest.Open(t, backend)
		ctx := t.Context()
		require.NoError(t, db.Ent.Pack.Create().SetRef("before").Exec(ctx))
		require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
			if err := tx.Ent.Pack.Create().SetRef("inside").Exec(ctx); err != nil {
				return err
			}
			refs, err := db.Ent.Pack.Query().Select("ref").Strings(ctx)
			require.NoError(t, err)
			require.Equal(t, []string{"before"}, refs, "the committed state, not the open transaction's")
			return nil
		}))
		require.Equal(t, 2, db.Ent.Pack.Query().CountX(ctx), "committed, read back")
		// Writes outside transactions still go to the writer.
		require.NoError(t, db.Ent.Pack.Update().Where().SetDescription("d").Exec(ctx))
		require.Equal(t, 2, db.Ent.Pack.Query().Where().CountX(ctx))
	})
}
