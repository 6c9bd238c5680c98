package store

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"sync"

	"entgo.io/ent/dialect"
)

// Locker hands out named, non-blocking locks that hold across processes on
// PostgreSQL (session advisory locks) and within the process on SQLite,
// where there is one process by construction.
type Locker struct {
	db    *DB
	mu    sync.Mutex
	local map[string]bool

	schemaOnce sync.Once
	schema     string
}

// NewLocker returns a Locker over db.
func NewLocker(db *DB) *Locker { return &Locker{db: db, local: map[string]bool{}} }

// TryLock takes the lock named key, or reports false when someone holds it.
// The returned release must be called exactly once.
func (l *Locker) TryLock(ctx context.Context, key string) (release func(), ok bool, err error) {
	l.mu.Lock()
	if l.local[key] {
		l.mu.Unlock()
		return nil, false, nil
	}
	l.local[key] = true
	l.mu.Unlock()
	releaseLocal := func() {
		l.mu.Lock()
		delete(l.local, key)
		l.mu.Unlock()
	}
	if l.db.Dialect != dialect.Postgres {
		return releaseLocal, true, nil
	}
	conn, err := l.db.SQL.Conn(ctx)
	if err != nil {
		releaseLocal()
		return nil, false, fmt.Errorf("lock %s: %w", key, err)
	}
	// Advisory locks are per database; the schema keeps two attune
	// installations in one database (tests do that) apart.
	l.schemaOnce.Do(func() {
		_ = conn.QueryRowContext(ctx, "SELECT current_schema()").Scan(&l.schema)
	})
	h := fnv.New64a()
	_, _ = h.Write([]byte(l.schema + "\x00" + key))
	id := int64(h.Sum64())
	var got bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", id).Scan(&got); err != nil || !got {
		conn.Close()
		releaseLocal()
		if err != nil {
			return nil, false, fmt.Errorf("lock %s: %w", key, err)
		}
		return nil, false, nil
	}
	return func() {
		unlock(conn, id)
		releaseLocal()
	}, true, nil
}

func unlock(conn *sql.Conn, id int64) {
	// Closing the session releases the lock even if the unlock fails.
	_, _ = conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", id)
	_ = conn.Close()
}
