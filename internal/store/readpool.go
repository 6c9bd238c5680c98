package store

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
)

// SQLite allows one writer but, in WAL mode, any number of readers beside
// it, each on the last committed state. attune's SQLite writer pool has one
// connection (River's SQLite driver asks for it); were reads to share it,
// every read outside a transaction would wait for every write (a webhook's
// trigger lookup, a subscriber's re-read, behind claims and commits). So
// ent's reads outside transactions go to a small pool of read-only
// connections.

// sqliteReaders bounds the read-only connections.
const sqliteReaders = 4

// Reader is where a read outside any transaction should go: SQLite's
// read-only connections, or the database itself on PostgreSQL.
func (db *DB) Reader() *sql.DB {
	if db.read != nil {
		return db.read
	}
	return db.SQL
}

// splitDriver is ent's driver over SQLite's writer and readers: SELECTs
// outside transactions read from the readers; everything else, and every
// transaction, goes to the writer.
type splitDriver struct {
	*entsql.Driver // the writer
	read           *entsql.Driver
}

// Query reads a SELECT from the readers, else runs on the writer (an
// INSERT … RETURNING is a query too).
func (d splitDriver) Query(ctx context.Context, query string, args, v any) error {
	if isSelect(query) {
		return d.read.Query(ctx, query, args, v)
	}
	return d.Driver.Query(ctx, query, args, v)
}

// isSelect reports whether query is a plain SELECT, which reads only.
func isSelect(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	return len(q) >= 6 && strings.EqualFold(q[:6], "SELECT")
}

// openReaders opens SQLite's read-only pool over dsn, the writer's DSN.
func openReaders(dsn string) (*sql.DB, error) {
	dsn += "&_pragma=query_only(1)"
	// The writer's DSN begins transactions IMMEDIATE (taking the write
	// lock); readers start none of their own, but say so anyway.
	dsn = strings.Replace(dsn, "_txlock=immediate", "_txlock=deferred", 1)
	c, err := newStmtCacheConnector(dsn, stmtCacheSize)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(sqliteReaders)
	// Opening one costs far more than a read (pragmas, the schema parsed
	// anew): keep them all while in use, let them go when idle for long.
	db.SetMaxIdleConns(sqliteReaders)
	db.SetConnMaxIdleTime(time.Minute)
	return db, nil
}

// Static check: the split driver is an ent driver.
var _ dialect.Driver = splitDriver{}
