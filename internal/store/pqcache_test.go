package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/store"
)

// openPostgres opens a fresh PostgreSQL schema through store.Open
// (statement cache on) with a table t(id, v), closed when the test ends.
func openPostgres(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), dbtest.URL(t, "postgres"), "")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	db.SQL.SetMaxOpenConns(1) // one connection, so its cache is the one counted
	_, err = db.SQL.ExecContext(t.Context(), `CREATE TABLE t (id bigint PRIMARY KEY, v text NOT NULL)`)
	require.NoError(t, err)
	return db
}

func TestPostgresStmtCacheReusesStatementsWithArguments(t *testing.T) {
	t.Parallel()
	db := openPostgres(t)
	ctx := t.Context()
	st := newStats(db)
	for i := 1; i <= 5; i++ {
		_, err := db.SQL.ExecContext(ctx, `INSERT INTO t (id, v) VALUES ($1, $2)`, i, fmt.Sprint("v", i))
		require.NoError(t, err)
		var v string
		require.NoError(t, db.SQL.QueryRowContext(ctx, `SELECT v FROM t WHERE id = $1`, i).Scan(&v))
		require.Equal(t, fmt.Sprint("v", i), v)
	}
	prepared, reused, _ := st.delta()
	require.Equal(t, int64(2), prepared, "one prepare per text")
	require.Equal(t, int64(8), reused)

	// Without arguments: the simple protocol, uncached, several statements allowed.
	_, err := db.SQL.ExecContext(ctx, `INSERT INTO t VALUES (100, 'a'); INSERT INTO t VALUES (101, 'b')`)
	require.NoError(t, err)
	prepared, reused, _ = st.delta()
	require.Zero(t, prepared)
	require.Zero(t, reused)

	// A failing run (duplicate key) inside a transaction: the transaction
	// rolls back as before and the statement is prepared again next time.
	tx, err := db.SQL.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, `INSERT INTO t (id, v) VALUES ($1, $2)`, 1, "dup")
	require.Error(t, err)
	require.NoError(t, tx.Rollback())
	_, err = db.SQL.ExecContext(ctx, `INSERT INTO t (id, v) VALUES ($1, $2)`, 6, "v6")
	require.NoError(t, err)
	prepared, _, _ = st.delta()
	require.Equal(t, int64(1), prepared, "the failed statement left the cache")
}

func TestPostgresStmtCacheSurvivesSchemaChanges(t *testing.T) {
	t.Parallel()
	db := openPostgres(t)
	ctx := t.Context()
	_, err := db.SQL.ExecContext(ctx, `INSERT INTO t (id, v) VALUES ($1, $2)`, 1, "one")
	require.NoError(t, err)
	count := func() (int, error) {
		rows, err := db.SQL.QueryContext(ctx, `SELECT * FROM t WHERE id = $1`, 1)
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		cols, err := rows.Columns()
		return len(cols), err
	}
	n, err := count()
	require.NoError(t, err)
	require.Equal(t, 2, n)
	_, err = db.SQL.ExecContext(ctx, `ALTER TABLE t ADD COLUMN w text`)
	require.NoError(t, err)
	// PostgreSQL may refuse the cached plan once ("cached plan must not
	// change result type"); the statement then leaves the cache.
	if n, err = count(); err != nil {
		n, err = count()
	}
	require.NoError(t, err)
	require.Equal(t, 3, n)
}

// TestPostgresStmtCachePreparesOldStatementsAgain: a statement is prepared
// anew once older than the cache's max age, so a plan PostgreSQL settled on
// while a table was tiny does not outlive the table's growth.
func TestPostgresStmtCachePreparesOldStatementsAgain(t *testing.T) {
	t.Parallel()
	db := openPostgres(t)
	ctx := t.Context()
	run := func() {
		var n int
		require.NoError(t, db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM t WHERE id > $1`, 0).Scan(&n))
	}
	run()
	st := newStats(db)
	run()
	prepared, reused, finalized := st.delta()
	require.Equal(t, []int64{0, 1, 0}, []int64{prepared, reused, finalized}, "young: reused")

	db.SetStmtMaxAge(time.Nanosecond)
	run()
	prepared, reused, finalized = st.delta()
	require.Equal(t, []int64{1, 0, 1}, []int64{prepared, reused, finalized}, "old: closed and prepared again")
}
