// Package store opens the database (an embedded SQLite file by default,
// PostgreSQL for production and many nodes) and applies the versioned
// migrations from migrations/. It is the only place that knows DSNs.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/lib/pq" // PostgreSQL driver "postgres"

	"github.com/attune-io/attune/ent"
	// Defaults, validators and the read policy of every entity
	// (ent/schema/privacy.go): without it every query fails.
	_ "github.com/attune-io/attune/ent/runtime"
)

// DB is an open database: the *sql.DB shared by ent and River, its dialect
// and the ent client over it.
type DB struct {
	SQL     *sql.DB
	Dialect string
	Ent     *ent.Client
	// Location is the DSN with credentials redacted, for logs.
	Location string

	stmts *stmtCacheConnector // the statement cache, for tests
	ckpt  *checkpointer       // SQLite's checkpointer, nil on PostgreSQL
	drv   dialect.Driver      // Ent's driver, which committed transactions' entities fall back to
	read  *sql.DB             // SQLite's read-only connections, nil on PostgreSQL
	group *group              // SQLite's group commit, nil on PostgreSQL
}

// SetMaxConns bounds the pool of PostgreSQL connections to n (idle ones to
// half of it); n ≤ 0 keeps the default. SQLite's pools are fixed.
func (d *DB) SetMaxConns(n int) {
	if n <= 0 || d.Dialect != dialect.Postgres {
		return
	}
	d.SQL.SetMaxOpenConns(n)
	d.SQL.SetMaxIdleConns(max(1, n/2))
}

// Open connects to databaseURL: a postgres:// (or postgresql://) URL, or a
// SQLite file path (optionally sqlite://path or file:path). An empty URL
// means <dataDir>/attune.db.
func Open(ctx context.Context, databaseURL, dataDir string) (*DB, error) {
	d, dsn, loc, err := resolve(databaseURL, dataDir)
	if err != nil {
		return nil, err
	}
	var stmts *stmtCacheConnector
	if d == dialect.Postgres {
		// lib/pq with a per-connection cache of prepared statements, see
		// newPQStmtCacheConnector.
		stmts, err = newPQStmtCacheConnector(dsn, stmtCacheSize)
	} else {
		// modernc.org/sqlite with a per-connection statement cache, see
		// stmtCacheConnector.
		stmts, err = newStmtCacheConnector(dsn, stmtCacheSize)
		if stmts != nil {
			stmts.keepRunning = true
		}
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", loc, err)
	}
	db := sql.OpenDB(stmts)
	if d == dialect.SQLite {
		// One writer connection: SQLite has one writer, and River's SQLite
		// driver asks for it. Code inside a transaction must use the tx's
		// client. Reads outside transactions have their own pool (readpool.go).
		db.SetMaxOpenConns(1)
	} else {
		db.SetMaxOpenConns(40)
		db.SetMaxIdleConns(20)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to %s: %w", loc, err)
	}
	out := &DB{SQL: db, Dialect: d, Location: loc, stmts: stmts}
	writer := entsql.OpenDB(d, db)
	out.drv = writer
	if d == dialect.SQLite {
		if out.ckpt, err = startCheckpointer(dsn); err != nil {
			db.Close()
			return nil, err
		}
		if out.read, err = openReaders(dsn); err != nil {
			out.Close()
			return nil, fmt.Errorf("opening %s for reading: %w", loc, err)
		}
		out.drv = splitDriver{Driver: writer, read: entsql.OpenDB(d, out.read)}
	}
	out.Ent = ent.NewClient(ent.Driver(out.drv))
	if d == dialect.SQLite {
		out.group = &group{db: out}
	}
	return out, nil
}

// PGArray passes a slice as a PostgreSQL array argument (lib/pq's
// pq.Array), so no package but this one imports the driver.
func PGArray(a any) any { return pq.Array(a) }

// Close closes the database.
func (db *DB) Close() error {
	if db.ckpt != nil {
		_ = db.ckpt.close()
	}
	if db.read != nil {
		_ = db.read.Close()
	}
	return db.SQL.Close()
}

func resolve(databaseURL, dataDir string) (d, dsn, loc string, err error) {
	switch {
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		u, perr := url.Parse(databaseURL)
		if perr != nil {
			return "", "", "", fmt.Errorf("parsing database URL: invalid URL")
		}
		return dialect.Postgres, databaseURL, u.Redacted(), nil
	}
	path := strings.TrimPrefix(strings.TrimPrefix(databaseURL, "sqlite://"), "file:")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if path == "" {
		if dataDir == "" {
			dataDir = "data"
		}
		path = filepath.Join(dataDir, "attune.db")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return "", "", "", fmt.Errorf("creating data directory: %w", err)
	}
	if !strings.HasPrefix(path, ":") { // not ":memory:"
		if err := ownerOnly(path); err != nil {
			return "", "", "", err
		}
	}
	q := url.Values{}
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous(NORMAL)")
	// Savepoint and statement journals in memory: by default SQLite
	// spills them to a temporary file past 64 KiB, and every member of a
	// group commit (group.go) runs in a savepoint.
	q.Add("_pragma", "temp_store(MEMORY)")
	q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", writerAutoCheckpoint))
	q.Set("_txlock", "immediate")
	q.Set("_time_format", "sqlite")
	return dialect.SQLite, "file:" + path + "?" + q.Encode(), path, nil
}

// ownerOnly creates the SQLite file readable by its owner only (SQLite
// gives its -wal and -shm files the database's mode) and closes existing
// ones that are not.
func ownerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("creating database file: %w", err)
	}
	_ = f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("closing %s to other users: %w", p, err)
		}
	}
	return nil
}
