package store_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // plain driver "sqlite", for a second connection

	"github.com/attune-io/attune/internal/store"
)

// openSQLite opens a fresh SQLite file through store.Open (statement cache
// on) with a table t(id, v), closed when the test ends.
func openSQLite(t *testing.T) (*store.DB, string) {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(t.Context(), "", dir)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.SQL.ExecContext(t.Context(), `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`)
	require.NoError(t, err)
	return db, filepath.Join(dir, "attune.db")
}

// stats is the cache's counters since the last call.
type stats struct {
	db                          *store.DB
	prepared, reused, finalized int64
}

func (s *stats) delta() (prepared, reused, finalized int64) {
	p, r, f := s.db.StmtCacheStats()
	prepared, reused, finalized = p-s.prepared, r-s.reused, f-s.finalized
	s.prepared, s.reused, s.finalized = p, r, f
	return prepared, reused, finalized
}

func newStats(db *store.DB) *stats {
	s := &stats{db: db}
	s.delta()
	return s
}

func TestStmtCacheReusesStatements(t *testing.T) {
	t.Parallel()
	db, _ := openSQLite(t)
	ctx := t.Context()
	st := newStats(db)
	for i := 1; i <= 10; i++ {
		_, err := db.SQL.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (?, ?)`, i, fmt.Sprint("v", i))
		require.NoError(t, err)
	}
	for i := 1; i <= 10; i++ {
		var v string
		require.NoError(t, db.SQL.QueryRowContext(ctx, `SELECT v FROM t WHERE id = ?`, i).Scan(&v))
		require.Equal(t, fmt.Sprint("v", i), v)
	}
	prepared, reused, finalized := st.delta()
	require.Equal(t, int64(2), prepared, "one prepare per text")
	require.Equal(t, int64(18), reused)
	require.Zero(t, finalized)
}

func TestStmtCacheArguments(t *testing.T) {
	t.Parallel()
	db, _ := openSQLite(t)
	ctx := t.Context()
	for i := range 3 { // each text twice: prepared, then cached
		id := 10*i + 1
		_, err := db.SQL.ExecContext(ctx, `INSERT INTO t (id, v) VALUES ($1, $2)`, id, "dollar")
		require.NoError(t, err)
		_, err = db.SQL.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (?, ?)`, id+1, "question")
		require.NoError(t, err)
		_, err = db.SQL.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (:id, @v)`, sql.Named("id", id+2), sql.Named("v", "named"))
		require.NoError(t, err)
		var n int
		require.NoError(t, db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM t WHERE id BETWEEN ?1 AND ?2 AND v <> $3`,
			10*i+1, 10*i+3, "").Scan(&n))
		require.Equal(t, 3, n)
	}
	// A wrong argument count is still SQLite's error, and the statement
	// still works afterwards.
	_, err := db.SQL.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (?, ?)`, 100)
	require.Error(t, err)
	_, err = db.SQL.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (?, ?)`, 100, "ok")
	require.NoError(t, err)
	// A NULL argument binds as NULL after a text bound to the same
	// statement (NOT NULL violated), then text again.
	_, err = db.SQL.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (?, ?)`, 101, nil)
	require.Error(t, err)
	_, err = db.SQL.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (?, ?)`, 101, "ok")
	require.NoError(t, err)
}

// TestStmtCacheNestedSameQuery runs a query while its own rows, on the same
// connection (a transaction), are still open.
func TestStmtCacheNestedSameQuery(t *testing.T) {
	t.Parallel()
	db, _ := openSQLite(t)
	ctx := t.Context()
	for i := 1; i <= 3; i++ {
		_, err := db.SQL.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (?, ?)`, i, fmt.Sprint("v", i))
		require.NoError(t, err)
	}
	const q = `SELECT id, v FROM t WHERE id >= ? ORDER BY id`
	readAll := func(rows *sql.Rows) []string {
		t.Helper()
		var out []string
		for rows.Next() {
			var id int
			var v string
			require.NoError(t, rows.Scan(&id, &v))
			out = append(out, fmt.Sprint(id, v))
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
		return out
	}
	// Cache q before the nested use.
	rows, err := db.SQL.QueryContext(ctx, q, 1)
	require.NoError(t, err)
	require.Equal(t, []string{"1v1", "2v2", "3v3"}, readAll(rows))

	tx, err := db.SQL.BeginTx(ctx, nil)
	require.NoError(t, err)
	outer, err := tx.QueryContext(ctx, q, 1)
	require.NoError(t, err)
	var got []string
	for outer.Next() {
		var id int
		var v string
		require.NoError(t, outer.Scan(&id, &v))
		inner, err := tx.QueryContext(ctx, q, id)
		require.NoError(t, err)
		got = append(got, fmt.Sprint(id, v, readAll(inner)))
		// The same text as an Exec while the outer rows run.
		_, err = tx.ExecContext(ctx, q, id)
		require.NoError(t, err)
	}
	require.NoError(t, outer.Err())
	require.NoError(t, outer.Close())
	require.NoError(t, tx.Commit())
	require.Equal(t, []string{"1v1[1v1 2v2 3v3]", "2v2[2v2 3v3]", "3v3[3v3]"}, got)

	// The cached statement is free again and reused.
	st := newStats(db)
	rows, err = db.SQL.QueryContext(ctx, q, 2)
	require.NoError(t, err)
	require.Equal(t, []string{"2v2", "3v3"}, readAll(rows))
	prepared, reused, _ := st.delta()
	require.Equal(t, [2]int64{0, 1}, [2]int64{prepared, reused})
}

func TestStmtCacheMultiStatementExec(t *testing.T) {
	t.Parallel()
	db, _ := openSQLite(t)
	ctx := t.Context()
	st := newStats(db)
	script := `CREATE TABLE a (x INTEGER); INSERT INTO a VALUES (1);
		INSERT INTO a VALUES (2) ; -- comment
		CREATE TABLE b (y INTEGER);`
	_, err := db.SQL.ExecContext(ctx, script)
	require.NoError(t, err)
	var n int
	require.NoError(t, db.SQL.QueryRowContext(ctx, `SELECT sum(x) FROM a`).Scan(&n))
	require.Equal(t, 3, n)
	require.NoError(t, db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM b`).Scan(&n))
	require.Zero(t, n)
	// Every statement runs again (not only the first, as a prepared
	// statement would): the CREATE fails.
	_, err = db.SQL.ExecContext(ctx, `INSERT INTO a VALUES (10); INSERT INTO a VALUES (20)`)
	require.NoError(t, err)
	_, err = db.SQL.ExecContext(ctx, `INSERT INTO a VALUES (10); INSERT INTO a VALUES (20)`)
	require.NoError(t, err)
	require.NoError(t, db.SQL.QueryRowContext(ctx, `SELECT sum(x) FROM a`).Scan(&n))
	require.Equal(t, 63, n)
	_, err = db.SQL.ExecContext(ctx, script)
	require.ErrorContains(t, err, "already exists")
	prepared, reused, _ := st.delta()
	require.Equal(t, int64(6), prepared, "scripts are not cached; sum and count are")
	require.Equal(t, int64(1), reused)

	// One statement with a trailing ';', or ';' in comments, is cached.
	for range 2 {
		require.NoError(t, db.SQL.QueryRowContext(ctx, "-- a; b\nSELECT count(*) FROM a;\n").Scan(&n))
	}
	prepared, reused, _ = st.delta()
	require.Equal(t, [2]int64{1, 1}, [2]int64{prepared, reused})
}

func TestStmtCacheSchemaChange(t *testing.T) {
	t.Parallel()
	db, _ := openSQLite(t)
	ctx := t.Context()
	const sel = `SELECT * FROM t WHERE id = ?`
	const ins = `INSERT INTO t (id, v) VALUES (?, ?)`
	_, err := db.SQL.ExecContext(ctx, ins, 1, "one")
	require.NoError(t, err)
	columns := func() []any {
		t.Helper()
		rows, err := db.SQL.QueryContext(ctx, sel, 1)
		require.NoError(t, err)
		defer rows.Close()
		cols, err := rows.Columns()
		require.NoError(t, err)
		require.True(t, rows.Next())
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		require.NoError(t, rows.Close())
		return vals
	}
	require.Equal(t, []any{int64(1), "one"}, columns())
	st := newStats(db)

	_, err = db.SQL.ExecContext(ctx, `ALTER TABLE t ADD COLUMN w INTEGER NOT NULL DEFAULT 7`)
	require.NoError(t, err)
	require.Equal(t, []any{int64(1), "one", int64(7)}, columns())

	_, err = db.SQL.ExecContext(ctx, `DROP TABLE t`)
	require.NoError(t, err)
	_, err = db.SQL.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, z REAL, v TEXT)`)
	require.NoError(t, err)
	_, err = db.SQL.ExecContext(ctx, ins, 1, "new")
	require.NoError(t, err)
	require.Equal(t, []any{int64(1), nil, "new"}, columns())
	_, reused, _ := st.delta()
	require.Equal(t, int64(3), reused, "the cached SELECT and INSERT ran across the changes")

	// A table gone: the cached statement fails, as an uncached one would,
	// and works again once the table is back.
	_, err = db.SQL.ExecContext(ctx, `DROP TABLE t`)
	require.NoError(t, err)
	_, err = db.SQL.QueryContext(ctx, sel, 1)
	require.ErrorContains(t, err, "no such table")
	_, err = db.SQL.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`)
	require.NoError(t, err)
	_, err = db.SQL.ExecContext(ctx, ins, 2, "back")
	require.NoError(t, err)
	var v string
	require.NoError(t, db.SQL.QueryRowContext(ctx, `SELECT v FROM t WHERE id = ?`, 2).Scan(&v))
	require.Equal(t, "back", v)
}

func TestStmtCacheTransactions(t *testing.T) {
	t.Parallel()
	db, path := openSQLite(t)
	ctx := t.Context()
	const ins = `INSERT INTO t (id, v) VALUES (?, ?)`
	const count = `SELECT count(*) FROM t`
	n := func(q interface {
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}) int {
		t.Helper()
		var n int
		require.NoError(t, q.QueryRowContext(ctx, count).Scan(&n))
		return n
	}
	_, err := db.SQL.ExecContext(ctx, ins, 1, "outside") // cached outside a transaction
	require.NoError(t, err)

	tx, err := db.SQL.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, ins, 2, "rolled back")
	require.NoError(t, err)
	require.Equal(t, 2, n(tx))
	require.NoError(t, tx.Rollback())
	require.Equal(t, 1, n(db.SQL))

	tx, err = db.SQL.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, ins, 3, "committed")
	require.NoError(t, err)
	// _txlock=immediate: the transaction holds the write lock from BEGIN,
	// so another connection cannot begin a write.
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	require.NoError(t, err)
	defer other.Close()
	_, err = other.ExecContext(ctx, `BEGIN IMMEDIATE`)
	require.ErrorContains(t, err, "locked")
	require.NoError(t, tx.Commit())
	require.Equal(t, 2, n(db.SQL))

	// A failed statement in a transaction, then a rollback, then the same
	// statement again.
	tx, err = db.SQL.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, ins, 3, "duplicate")
	require.ErrorContains(t, err, "UNIQUE")
	require.NoError(t, tx.Rollback())
	_, err = db.SQL.ExecContext(ctx, ins, 4, "after")
	require.NoError(t, err)
	require.Equal(t, 3, n(db.SQL))

	// InTx, ent on the transaction.
	require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.SQL.ExecContext(ctx, ins, 5, "intx")
		return err
	}))
	require.Equal(t, 4, n(db.SQL))
}

func TestStmtCacheContextCanceled(t *testing.T) {
	t.Parallel()
	db, _ := openSQLite(t)
	ctx := t.Context()
	const ins = `INSERT INTO t (id, v) VALUES (?, ?)`
	_, err := db.SQL.ExecContext(ctx, ins, 1, "one")
	require.NoError(t, err)

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = db.SQL.ExecContext(canceled, ins, 2, "two")
	require.ErrorIs(t, err, context.Canceled)

	// A long query canceled while its rows are read: the rows end with the
	// context's error, and the statement works again afterwards.
	const long = `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) SELECT i FROM c`
	for range 2 {
		qctx, cancel := context.WithCancel(ctx)
		rows, err := db.SQL.QueryContext(qctx, long)
		require.NoError(t, err)
		require.True(t, rows.Next())
		cancel()
		for rows.Next() {
		}
		require.ErrorIs(t, rows.Err(), context.Canceled)
		require.NoError(t, rows.Close())
	}
	_, err = db.SQL.ExecContext(ctx, ins, 2, "two")
	require.NoError(t, err)
	var n int
	require.NoError(t, db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n))
	require.Equal(t, 2, n)
}

// TestStmtCacheEvictsAndFinalizes: past its bound the cache finalizes the
// least recently used statement, but not one whose rows are open; closing
// the database finalizes the rest.
func TestStmtCacheEvictsAndFinalizes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := store.Open(t.Context(), "", dir)
	require.NoError(t, err)
	db.SetStmtCacheSize(2)
	ctx := t.Context()
	st := newStats(db)
	_, err = db.SQL.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY)`)
	require.NoError(t, err)
	_, err = db.SQL.ExecContext(ctx, `INSERT INTO t VALUES (1), (2), (3)`)
	require.NoError(t, err)
	_, _, finalized := st.delta()
	require.Zero(t, finalized)

	conn, err := db.SQL.Conn(ctx)
	require.NoError(t, err)
	open, err := conn.QueryContext(ctx, `SELECT id FROM t ORDER BY id`)
	require.NoError(t, err)
	require.True(t, open.Next())
	for i := range 3 {
		var n int
		require.NoError(t, conn.QueryRowContext(ctx, fmt.Sprintf(`SELECT %d`, i)).Scan(&n))
	}
	// Four texts through a cache of two: the CREATE, INSERT, open SELECT
	// and SELECT 0 left it, and all but the open one are finalized.
	prepared, _, finalized := st.delta()
	require.Equal(t, [2]int64{4, 3}, [2]int64{prepared, finalized})
	var ids []int
	for ok := true; ok; ok = open.Next() {
		var id int
		require.NoError(t, open.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(t, open.Err())
	require.NoError(t, open.Close())
	require.Equal(t, []int{1, 2, 3}, ids)
	_, _, finalized = st.delta()
	require.Equal(t, int64(1), finalized, "the evicted SELECT, once its rows closed")
	require.NoError(t, conn.Close())

	require.NoError(t, db.Close())
	_, _, finalized = st.delta()
	require.Equal(t, int64(2), finalized, "the two cached statements, SELECT 1 and 2")
	p, _, f := db.StmtCacheStats()
	require.Equal(t, p, f, "every statement the cache prepared is finalized")
}

// TestStmtCacheConcurrent: goroutines share the one-connection pool, with
// queries, writes and transactions on the same texts.
func TestStmtCacheConcurrent(t *testing.T) {
	t.Parallel()
	db, _ := openSQLite(t)
	ctx := t.Context()
	const workers, per = 6, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range per {
				id := w*per + i + 1
				if err := step(ctx, db, id); err != nil {
					errs <- fmt.Errorf("worker %d, id %d: %w", w, id, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	var n int
	require.NoError(t, db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n))
	require.Equal(t, workers*per, n)
	prepared, reused, _ := db.StmtCacheStats()
	require.Greater(t, reused, 10*prepared)
}

func step(ctx context.Context, db *store.DB, id int) error {
	if id%3 == 0 {
		return db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.SQL.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (?, ?)`, id, "tx"); err != nil {
				return err
			}
			rows, err := tx.SQL.QueryContext(ctx, `SELECT id FROM t WHERE id <= ? ORDER BY id DESC LIMIT 2`, id)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var got int
				if err := rows.Scan(&got); err != nil {
					return err
				}
				var v string
				if err := tx.SQL.QueryRowContext(ctx, `SELECT v FROM t WHERE id = ?`, got).Scan(&v); err != nil {
					return err
				}
			}
			return rows.Err()
		})
	}
	if _, err := db.SQL.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (?, ?)`, id, "plain"); err != nil {
		return err
	}
	var v string
	if err := db.SQL.QueryRowContext(ctx, `SELECT v FROM t WHERE id = ?`, id).Scan(&v); err != nil {
		return err
	}
	if v != "plain" {
		return errors.New("read " + v)
	}
	return nil
}

// TestStmtCacheForwardsInterfaces: the wrapper is what database/sql sees,
// modernc's connection is under it, and neither checks named values (so
// database/sql's default conversion applies to both).
func TestStmtCacheForwardsInterfaces(t *testing.T) {
	t.Parallel()
	db, _ := openSQLite(t)
	conn, err := db.SQL.Conn(t.Context())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.Raw(func(dc any) error {
		u, ok := dc.(interface{ Unwrap() driver.Conn })
		require.True(t, ok, "%T has no Unwrap", dc)
		for _, c := range []any{dc, u.Unwrap()} {
			_, ok := c.(driver.NamedValueChecker)
			require.False(t, ok, "%T checks named values: forward CheckNamedValue", c)
			_, ok = c.(driver.ConnBeginTx)
			require.True(t, ok)
			_, ok = c.(driver.SessionResetter)
			require.True(t, ok)
			_, ok = c.(driver.Validator)
			require.True(t, ok)
		}
		return nil
	}))
	require.NoError(t, conn.Close()) // the pool's one connection
	require.NoError(t, db.SQL.PingContext(t.Context()))
	ro, err := db.SQL.BeginTx(t.Context(), &sql.TxOptions{ReadOnly: true})
	require.NoError(t, err)
	require.NoError(t, ro.Rollback())
}

// A LIMIT bound to a different value on every run (River's fetch) keeps its
// one prepared statement and still limits.
func TestStmtCacheVaryingLimit(t *testing.T) {
	t.Parallel()
	db, _ := openSQLite(t)
	ctx := t.Context()
	for i := 1; i <= 10; i++ {
		_, err := db.SQL.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (?, 'x')`, i)
		require.NoError(t, err)
	}
	st := newStats(db)
	for _, n := range []int{3, 1, 7, 0, 10, 2} {
		rows, err := db.SQL.QueryContext(ctx, "SELECT id FROM t ORDER BY id LIMIT ?", n)
		require.NoError(t, err)
		var got []int
		for rows.Next() {
			var id int
			require.NoError(t, rows.Scan(&id))
			got = append(got, id)
		}
		require.NoError(t, rows.Close())
		require.Len(t, got, n)
		for i, id := range got {
			require.Equal(t, i+1, id)
		}
	}
	prepared, reused, _ := st.delta()
	require.Equal(t, int64(1), prepared)
	require.Equal(t, int64(5), reused)
}
