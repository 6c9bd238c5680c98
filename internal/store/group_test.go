package store_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"modernc.org/sqlite"

	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/store"
)

// interruptFunc is an SQL function that calls the function interrupting
// holds, for a test that needs a context to end while its statement runs.
const interruptFunc = "attune_test_interrupt"

var interrupting atomic.Pointer[context.CancelFunc]

func init() {
	sqlite.MustRegisterScalarFunction(interruptFunc, 0, func(*sqlite.FunctionContext, []driver.Value) (driver.Value, error) {
		if f := interrupting.Load(); f != nil {
			(*f)()
		}
		return "", nil
	})
}

// whileOpen runs first in a transaction that, before it ends, starts
// second in another goroutine and waits until second is waiting to write
// (SQLite: for the group's turn, so both share one database transaction)
// or running (PostgreSQL: in its own). It returns both InTx results and
// what second panicked with.
func whileOpen(t *testing.T, db *store.DB, first func(tx *store.Tx) error, second func(tx *store.Tx) error) (err1, err2 error, panicked any) {
	t.Helper()
	started := make(chan struct{})
	done := make(chan struct{})
	err1 = db.InTx(t.Context(), func(tx *store.Tx) error {
		if err := first(tx); err != nil {
			return err
		}
		go func() {
			defer close(done)
			defer func() { panicked = recover() }()
			err2 = db.InTx(t.Context(), func(tx *store.Tx) error {
				close(started)
				return second(tx)
			})
		}()
		for db.GroupWaiting() == 0 {
			select {
			case <-started:
				return nil
			default:
				runtime.Gosched()
			}
		}
		return nil
	})
	<-done
	return err1, err2, panicked
}

// TestTransactionsWaitingTogetherStayIndependent: on SQLite, transactions
// that wait for the writer share one database transaction (group commit);
// each must still commit or roll back alone, whatever the other does.
func TestTransactionsWaitingTogetherStayIndependent(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		packs := func(db *store.DB) []string {
			return db.Ent.Pack.Query().Select("ref").StringsX(context.Background())
		}

		t.Run("a failing one is rolled back alone", func(t *testing.T) {
			db := dbtest.Open(t, backend)
			boom := errors.New("boom")
			var hooks []string
			err1, err2, _ := whileOpen(t, db, func(tx *store.Tx) error {
				tx.AfterCommit(func() { hooks = append(hooks, "first") })
				return tx.Ent.Pack.Create().SetRef("first").Exec(t.Context())
			}, func(tx *store.Tx) error {
				tx.AfterCommit(func() { hooks = append(hooks, "second") })
				tx.Ent.Pack.Create().SetRef("second").ExecX(t.Context())
				return boom
			})
			require.NoError(t, err1)
			require.ErrorIs(t, err2, boom)
			require.Equal(t, []string{"first"}, packs(db))
			require.Equal(t, []string{"first"}, hooks, "only the committed one's hooks ran")
		})

		t.Run("a canceled one does not take the other with it", func(t *testing.T) {
			// modernc interrupts a statement whose context ends, and SQLite
			// then rolls back the whole transaction.
			db := dbtest.Open(t, backend)
			ctx, cancel := context.WithCancel(t.Context())
			err1, err2, _ := whileOpen(t, db, func(tx *store.Tx) error {
				return tx.Ent.Pack.Create().SetRef("first").Exec(t.Context())
			}, func(tx *store.Tx) error {
				tx.Ent.Pack.Create().SetRef("second").ExecX(ctx)
				cancel()
				return tx.Ent.Pack.Create().SetRef("third").Exec(ctx)
			})
			require.NoError(t, err1)
			require.ErrorIs(t, err2, context.Canceled)
			require.Equal(t, []string{"first"}, packs(db))
		})

		if backend == "sqlite" {
			t.Run("an interrupted write does not take the other with it", func(t *testing.T) {
				// modernc interrupts a running statement whose context ends,
				// and SQLite then rolls back the whole transaction, so the
				// writer's statements run to their end (a context already
				// ended still fails the next call). interruptFunc cancels
				// the context of the statement that calls it, which then
				// runs on for a million rows.
				db := dbtest.Open(t, backend)
				ctx, cancel := context.WithCancel(t.Context())
				interrupting.Store(&cancel)
				err1, err2, _ := whileOpen(t, db, func(tx *store.Tx) error {
					return tx.Ent.Pack.Create().SetRef("first").Exec(t.Context())
				}, func(tx *store.Tx) error {
					tx.Ent.Pack.Create().SetRef("second").ExecX(ctx)
					if _, err := tx.SQL.ExecContext(ctx, `UPDATE packs SET label = `+interruptFunc+`() ||
						(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) SELECT count(*) FROM c)
						WHERE ref = 'second'`); err != nil {
						return err
					}
					return tx.Ent.Pack.Create().SetRef("third").Exec(ctx)
				})
				require.NoError(t, err1)
				require.ErrorIs(t, err2, context.Canceled)
				require.Equal(t, []string{"first"}, packs(db))
			})
		}

		t.Run("a panicking one panics in its own goroutine", func(t *testing.T) {
			db := dbtest.Open(t, backend)
			err1, err2, panicked := whileOpen(t, db, func(tx *store.Tx) error {
				return tx.Ent.Pack.Create().SetRef("first").Exec(t.Context())
			}, func(tx *store.Tx) error {
				tx.Ent.Pack.Create().SetRef("second").ExecX(t.Context())
				panic("bug")
			})
			require.NoError(t, err1)
			require.NoError(t, err2, "it never returned")
			require.Equal(t, "bug", panicked)
			require.Equal(t, []string{"first"}, packs(db))
			require.NoError(t, db.InTx(t.Context(), func(tx *store.Tx) error {
				return tx.Ent.Pack.Create().SetRef("after").Exec(t.Context())
			}), "the writer is free again")
			require.ElementsMatch(t, []string{"first", "after"}, packs(db))
		})

		t.Run("many at once", func(t *testing.T) {
			db := dbtest.Open(t, backend)
			const n = 40 // more than one group holds
			var wg sync.WaitGroup
			errs := make([]error, n)
			hooked := make([]bool, n)
			for i := range n {
				wg.Go(func() {
					errs[i] = db.InTx(t.Context(), func(tx *store.Tx) error {
						tx.AfterCommit(func() { hooked[i] = true })
						if err := tx.Ent.Pack.Create().SetRef(fmt.Sprintf("p%02d", i)).Exec(t.Context()); err != nil {
							return err
						}
						if i%3 == 0 {
							return fmt.Errorf("fails %d", i)
						}
						return nil
					})
				})
			}
			wg.Wait()
			var want []string
			for i := range n {
				if i%3 == 0 {
					require.EqualError(t, errs[i], fmt.Sprintf("fails %d", i))
					require.False(t, hooked[i])
					continue
				}
				require.NoError(t, errs[i])
				require.True(t, hooked[i], "AfterCommit ran before InTx returned")
				want = append(want, fmt.Sprintf("p%02d", i))
			}
			require.ElementsMatch(t, want, packs(db))
		})
	})
}
