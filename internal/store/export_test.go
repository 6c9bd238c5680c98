package store

import (
	"time"

	"entgo.io/ent/dialect"
)

// StmtCacheStats returns the SQLite statement cache's counters: statements
// prepared for Exec and Query calls, cache hits, and cached statements
// finalized.
func (db *DB) StmtCacheStats() (prepared, reused, finalized int64) {
	return db.stmts.prepared.Load(), db.stmts.reused.Load(), db.stmts.finalized.Load()
}

// SetStmtCacheSize changes the cache bound of db's connections; call it
// before using db.
func (db *DB) SetStmtCacheSize(n int) { db.stmts.size = n }

// SetStmtMaxAge changes how long db's PostgreSQL statements stay prepared;
// call it before using db.
func (db *DB) SetStmtMaxAge(d time.Duration) { db.stmts.maxAge = d }

// SetGroupCommit turns SQLite's group commit off or back on, for
// benchmarks that compare the two.
func (db *DB) SetGroupCommit(on bool) {
	db.group = nil
	if on && db.Dialect == dialect.SQLite {
		db.group = &group{db: db}
	}
}

// GroupWaiting is how many transactions wait for SQLite's group commit's
// turn (0 on PostgreSQL).
func (db *DB) GroupWaiting() int32 {
	if db.group == nil {
		return 0
	}
	return db.group.waiting.Load()
}
