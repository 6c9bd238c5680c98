package store

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"
	"modernc.org/sqlite"
)

// stmtCacheSize bounds the prepared statements each SQLite connection keeps.
// ent and River issue a few hundred distinct statement texts at most; a text
// that falls out of the cache is only prepared again.
const stmtCacheSize = 256

// The statement cache, written for SQLite and used on PostgreSQL too (see
// newPQStmtCacheConnector; there only texts run with arguments are cached).
//
// database/sql without Prepare hands every ExecContext and QueryContext to
// the driver as text, and modernc.org/sqlite prepares it (sqlite3_prepare_v2,
// parsing and planning) and finalizes it on every call: on the one SQLite
// connection that was about half of the server's CPU. stmtCacheConnector
// wraps modernc's connector so that each connection keeps its statements,
// keyed by their text, in a bounded LRU, and runs them again with new
// arguments. Behaviour stays modernc's, since modernc's own conn.ExecContext
// is "prepare, then run the statement" and the cache skips only the first
// half:
//
//   - A statement runs once at a time: while a query's rows are open (nested
//     iteration in a transaction, over the same text), the same text runs on
//     a fresh statement, through modernc's uncached path.
//   - Text holding several statements (migrations, River's schema) is not
//     cached: a ';' (outside literals and comments) followed by more than
//     white space or comments sends it to modernc, which runs every
//     statement of it.
//   - Schema changes need nothing: prepare_v2 statements prepare themselves
//     again on SQLITE_SCHEMA.
//   - A statement whose run failed is dropped from the cache, so an error
//     leaves nothing behind that a later call could trip on.
//   - Contexts, busy waits and interrupts are modernc's: its statements
//     watch the call's context as its connection does.
//   - Arguments reach the statement as database/sql converted them for the
//     connection, as before.
//   - Closing the connection finalizes its statements.
//
// database/sql uses a connection from one goroutine at a time (rows of the
// connection included), so the cache needs no lock for correctness; mu only
// keeps the bookkeeping safe should that ever change.
type stmtCacheConnector struct {
	driver.Connector
	size int
	// argsOnly caches only statements run with arguments (PostgreSQL: a
	// text without arguments goes by the simple query protocol, one round
	// trip and several statements allowed, as before).
	argsOnly bool
	// maxAge, when set, is how long a statement stays prepared before it is
	// prepared again (see pqStmtMaxAge).
	maxAge time.Duration
	// keepRunning runs statements without the caller's cancellation (a
	// context that has already ended still fails the call). SQLite's
	// writer: modernc interrupts a statement whose context ends, and an
	// interrupted write rolls back the whole transaction, which on the
	// writer may hold other callers' work (see group). It also spares each
	// statement the goroutine modernc starts to watch the context.
	keepRunning bool

	// prepared counts statements prepared for ExecContext and QueryContext
	// (cache misses, texts not cached, statements in use), reused the cache
	// hits and finalized the cached statements closed. For tests.
	prepared  atomic.Int64
	reused    atomic.Int64
	finalized atomic.Int64
}

// newStmtCacheConnector returns a connector for the SQLite DSN whose
// connections cache up to size prepared statements each.
func newStmtCacheConnector(dsn string, size int) (*stmtCacheConnector, error) {
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return &stmtCacheConnector{Connector: base, size: size}, nil
}

// newPQStmtCacheConnector returns a connector for the PostgreSQL DSN whose
// connections keep the named prepared statements of the texts they run
// with arguments. lib/pq runs such a text as an unnamed statement, which
// costs two round trips (parse and describe, then bind and execute); a
// prepared one costs one. A statement that fails (the schema changed under
// it: "cached plan must not change result type") leaves the cache, so the
// next call prepares it again.
func newPQStmtCacheConnector(dsn string, size int) (*stmtCacheConnector, error) {
	base, err := pq.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return &stmtCacheConnector{Connector: base, size: size, argsOnly: true, maxAge: pqStmtMaxAge}, nil
}

// pqStmtMaxAge bounds how long PostgreSQL keeps a statement's plan. After
// five runs PostgreSQL may settle on a generic plan, made with the table's
// size at that moment and kept until the table is next analyzed: a
// statement first run on a young table (a new install, or every benchmark
// run) kept scanning it whole as it grew, 3 ms per outcome at 20,000
// executions and growing. Preparing each statement again after a few
// seconds costs one round trip per statement and connection.
const pqStmtMaxAge = 5 * time.Second

// Connect opens a modernc connection and wraps it.
func (c *stmtCacheConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	inner, ok := dc.(sqliteConn)
	if !ok {
		_ = dc.Close()
		return nil, fmt.Errorf("SQLite connection %T lacks an interface the statement cache forwards", dc)
	}
	cc := &stmtCacheConn{
		inner:   inner,
		owner:   c,
		entries: make(map[string]*list.Element),
	}
	if nvc, ok := dc.(driver.NamedValueChecker); ok {
		return &checkingConn{stmtCacheConn: cc, check: nvc}, nil
	}
	return cc, nil
}

// checkingConn is a cached connection whose driver converts arguments
// itself (lib/pq does); database/sql must keep asking it.
type checkingConn struct {
	*stmtCacheConn
	check driver.NamedValueChecker
}

// CheckNamedValue is the driver's.
func (c *checkingConn) CheckNamedValue(nv *driver.NamedValue) error {
	return c.check.CheckNamedValue(nv)
}

// sqliteConn is what a modernc connection implements and database/sql uses:
// the wrapper forwards every one of these, or database/sql would fall back
// to weaker paths (BeginTx options, contexts in Begin and Prepare, the
// connection checks). modernc's connection implements no NamedValueChecker:
// database/sql's default conversion applies, with or without the wrapper
// (a test checks both facts).
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// sqliteStmt is what a modernc statement implements.
type sqliteStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// stmtCacheConn is a modernc connection with its statement cache.
type stmtCacheConn struct {
	inner sqliteConn
	owner *stmtCacheConnector

	mu      sync.Mutex
	lru     list.List // of *cachedStmt, most recently used first
	entries map[string]*list.Element
}

// cachedStmt is one prepared statement of the cache.
type cachedStmt struct {
	query string
	stmt  sqliteStmt
	// inUse: a call or open rows are running it.
	inUse bool
	// dropped: out of the cache; finalize once no longer in use.
	dropped bool
	// born is when it was prepared.
	born time.Time
}

// Static checks: the wrapper forwards what modernc's connection offers.
var (
	_ sqliteConn                            = (*stmtCacheConn)(nil)
	_ driver.Connector                      = (*stmtCacheConnector)(nil)
	_ driver.RowsColumnTypeScanType         = (*cachedRows)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*cachedRows)(nil)
	_ driver.RowsColumnTypeLength           = (*cachedRows)(nil)
	_ driver.RowsColumnTypeNullable         = (*cachedRows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*cachedRows)(nil)
)

// Unwrap returns modernc's connection (sqlite.Limit and other helpers look
// through wrappers this way).
func (c *stmtCacheConn) Unwrap() driver.Conn { return c.inner }

// Prepare is modernc's: a statement database/sql's Stmt owns is not cached.
func (c *stmtCacheConn) Prepare(query string) (driver.Stmt, error) { return c.inner.Prepare(query) }

// PrepareContext is modernc's, see Prepare.
func (c *stmtCacheConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.inner.PrepareContext(ctx, query)
}

// Begin is modernc's.
func (c *stmtCacheConn) Begin() (driver.Tx, error) { return c.inner.Begin() } //nolint:staticcheck // forwarded

// BeginTx is modernc's (and with it _txlock=immediate).
func (c *stmtCacheConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.inner.BeginTx(ctx, opts)
}

// Ping is modernc's.
func (c *stmtCacheConn) Ping(ctx context.Context) error { return c.inner.Ping(ctx) }

// ResetSession is modernc's.
func (c *stmtCacheConn) ResetSession(ctx context.Context) error { return c.inner.ResetSession(ctx) }

// IsValid is modernc's.
func (c *stmtCacheConn) IsValid() bool { return c.inner.IsValid() }

// Close finalizes the cached statements, then closes the connection.
func (c *stmtCacheConn) Close() error {
	c.mu.Lock()
	stmts := make([]sqliteStmt, 0, c.lru.Len())
	for e := c.lru.Front(); e != nil; e = e.Next() {
		s := e.Value.(*cachedStmt)
		s.dropped = true
		stmts = append(stmts, s.stmt)
	}
	c.lru.Init()
	clear(c.entries)
	c.mu.Unlock()
	var errs []error
	for _, s := range stmts {
		errs = append(errs, c.finalize(s))
	}
	errs = append(errs, c.inner.Close())
	return errors.Join(errs...)
}

// runCtx is the context a statement runs with: the caller's, or on a
// keepRunning connection one without its cancellation, after refusing a
// context that has already ended.
func (c *stmtCacheConn) runCtx(ctx context.Context) (context.Context, error) {
	if !c.owner.keepRunning {
		return ctx, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return context.WithoutCancel(ctx), nil
}

// ExecContext runs query on its cached statement.
func (c *stmtCacheConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	ctx, err := c.runCtx(ctx)
	if err != nil {
		return nil, err
	}
	if c.owner.argsOnly && len(args) == 0 {
		return c.inner.ExecContext(ctx, query, args)
	}
	s, err := c.acquire(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		c.owner.prepared.Add(1)
		return c.inner.ExecContext(ctx, query, args)
	}
	r, err := s.stmt.ExecContext(ctx, args)
	c.release(s, err != nil)
	return r, err
}

// QueryContext runs query on its cached statement; the statement is in use
// until the rows close.
func (c *stmtCacheConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	ctx, err := c.runCtx(ctx)
	if err != nil {
		return nil, err
	}
	if c.owner.argsOnly && len(args) == 0 {
		return c.inner.QueryContext(ctx, query, args)
	}
	s, err := c.acquire(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		c.owner.prepared.Add(1)
		return c.inner.QueryContext(ctx, query, args)
	}
	r, err := s.stmt.QueryContext(ctx, args)
	if err != nil {
		c.release(s, true)
		return nil, err
	}
	return &cachedRows{Rows: r, conn: c, stmt: s}, nil
}

// acquire returns the cached statement for query, preparing it on a miss,
// and marks it in use. It returns nil, nil when the caller must use
// modernc's uncached path: query holds several statements, or its
// statement is in use.
func (c *stmtCacheConn) acquire(ctx context.Context, query string) (*cachedStmt, error) {
	var stale sqliteStmt
	c.mu.Lock()
	// Only cacheable texts are ever entered, so a hit needs no look at the
	// text: judging it on every run cost more than the lookup.
	if e, ok := c.entries[query]; ok {
		s := e.Value.(*cachedStmt)
		switch {
		case s.inUse:
			c.mu.Unlock()
			return nil, nil
		case c.owner.maxAge <= 0 || time.Since(s.born) < c.owner.maxAge:
			s.inUse = true
			c.lru.MoveToFront(e)
			c.mu.Unlock()
			c.owner.reused.Add(1)
			return s, nil
		}
		// Too old: out of the cache, and prepared anew below.
		c.lru.Remove(e)
		delete(c.entries, query)
		s.dropped = true
		stale = s.stmt
	}
	c.mu.Unlock()
	if stale != nil {
		_ = c.finalize(stale)
	}
	if !cacheable(query) {
		return nil, nil
	}

	text := query
	if !c.owner.argsOnly {
		text = stableLimit(query)
	}
	ds, err := c.inner.PrepareContext(ctx, text)
	if err != nil {
		return nil, err
	}
	c.owner.prepared.Add(1)
	st, ok := ds.(sqliteStmt)
	if !ok {
		_ = ds.Close()
		return nil, fmt.Errorf("SQLite statement %T lacks StmtExecContext or StmtQueryContext", ds)
	}
	s := &cachedStmt{query: query, stmt: st, inUse: true, born: time.Now()}
	var evicted []sqliteStmt
	c.mu.Lock()
	c.entries[query] = c.lru.PushFront(s)
	for c.lru.Len() > c.owner.size {
		old := c.lru.Back().Value.(*cachedStmt)
		c.lru.Remove(c.lru.Back())
		delete(c.entries, old.query)
		old.dropped = true
		if !old.inUse {
			evicted = append(evicted, old.stmt)
		}
	}
	c.mu.Unlock()
	for _, st := range evicted {
		_ = c.finalize(st)
	}
	return s, nil
}

// release ends a use of s. A statement whose run failed leaves the cache;
// a statement out of the cache is finalized.
func (c *stmtCacheConn) release(s *cachedStmt, failed bool) {
	c.mu.Lock()
	s.inUse = false
	if failed && !s.dropped {
		if e, ok := c.entries[s.query]; ok && e.Value == s {
			c.lru.Remove(e)
			delete(c.entries, s.query)
		}
		s.dropped = true
	}
	closeIt := s.dropped
	c.mu.Unlock()
	if closeIt {
		_ = c.finalize(s.stmt)
	}
}

func (c *stmtCacheConn) finalize(s sqliteStmt) error {
	c.owner.finalized.Add(1)
	return s.Close()
}

// cacheable reports whether query may be cached: it holds one statement,
// that is no ';' outside string literals, quoted identifiers and comments
// is followed by more than white space, comments and ';'. River's queries
// carry comments with ';' in them. A text judged wrongly either way stays
// correct: modernc's statement runs a script statement by statement.
func cacheable(query string) bool {
	for i := 0; i < len(query); i++ {
		if query[i] == ';' {
			return blank(query[i+1:])
		}
		j, ok := skipQuoted(query, i)
		if !ok {
			return false
		}
		i = j
	}
	return true
}

// skipQuoted returns the index of the last byte of the string literal,
// quoted identifier or comment that starts at query[i], or i if none does;
// false if it is never closed.
func skipQuoted(query string, i int) (int, bool) {
	switch c := query[i]; c {
	case '\'', '"', '`', '[':
		end := c
		if c == '[' {
			end = ']'
		}
		// A doubled quote ends the literal and opens the next one.
		j := strings.IndexByte(query[i+1:], end)
		if j < 0 {
			return len(query), false
		}
		return i + j + 1, true
	case '-', '/':
		n, ok := comment(query[i:])
		if !ok {
			return len(query), false
		}
		return i + n - 1, true
	}
	return i, true
}

// stableLimit keeps SQLite from preparing a statement again whenever the
// value bound to its LIMIT changes. Since 3.54 SQLite reads a bare
// parameter's value when it plans "LIMIT ?" and marks the statement to be
// re-prepared as soon as a different value is bound: River's fetch
// ("LIMIT ?5", the worker's free slots, which change on nearly every call)
// was parsed and planned anew on most runs, half of what the fetch cost.
// Written "LIMIT +?5", the limit is an expression SQLite does not look
// into: the same rows, one plan. Literals, quoted names and comments are
// left alone.
func stableLimit(query string) string {
	var b strings.Builder
	last := 0
	for i := 0; i < len(query); i++ {
		if c := query[i]; (c == 'L' || c == 'l') && keywordAt(query, i, "LIMIT") {
			j := i + len("LIMIT")
			for j < len(query) && isSpace(query[j]) {
				j++
			}
			if j < len(query) && strings.IndexByte("?:@$", query[j]) >= 0 {
				b.WriteString(query[last:j])
				b.WriteByte('+')
				last = j
			}
			i = j - 1
			continue
		}
		j, ok := skipQuoted(query, i)
		if !ok {
			break
		}
		i = j
	}
	if last == 0 {
		return query
	}
	b.WriteString(query[last:])
	return b.String()
}

// keywordAt reports whether word (upper case) stands at s[i] as a whole
// word, in any case.
func keywordAt(s string, i int, word string) bool {
	if i+len(word) > len(s) || !strings.EqualFold(s[i:i+len(word)], word) {
		return false
	}
	if i > 0 && isWordByte(s[i-1]) {
		return false
	}
	return i+len(word) == len(s) || !isWordByte(s[i+len(word)])
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// comment returns the length of the comment s starts with (0 if none), and
// false for an unterminated block comment.
func comment(s string) (int, bool) {
	switch {
	case strings.HasPrefix(s, "--"):
		if j := strings.IndexByte(s, '\n'); j >= 0 {
			return j + 1, true
		}
		return len(s), true
	case strings.HasPrefix(s, "/*"):
		if j := strings.Index(s[2:], "*/"); j >= 0 {
			return j + 4, true
		}
		return 0, false
	}
	return 1, true
}

// blank reports whether s holds only white space, comments and ';'.
func blank(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\r', '\f', '\v', ';':
		case '-', '/':
			n, ok := comment(s[i:])
			if !ok || n == 1 {
				return false
			}
			i += n - 1
		default:
			return false
		}
	}
	return true
}

// cachedRows are the rows of a cached statement: closing them frees the
// statement for the next run. The column-type methods are modernc's.
type cachedRows struct {
	driver.Rows
	conn   *stmtCacheConn
	stmt   *cachedStmt
	closed bool
}

// Close closes the rows (modernc resets the statement) and releases the
// statement.
func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	if !r.closed {
		r.closed = true
		r.conn.release(r.stmt, err != nil)
	}
	return err
}

// ColumnTypeScanType is modernc's.
func (r *cachedRows) ColumnTypeScanType(index int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(index)
	}
	return reflect.TypeFor[any]()
}

// ColumnTypeDatabaseTypeName is modernc's.
func (r *cachedRows) ColumnTypeDatabaseTypeName(index int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(index)
	}
	return ""
}

// ColumnTypeLength is modernc's.
func (r *cachedRows) ColumnTypeLength(index int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(index)
	}
	return 0, false
}

// ColumnTypeNullable is modernc's.
func (r *cachedRows) ColumnTypeNullable(index int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(index)
	}
	return false, false
}

// ColumnTypePrecisionScale is modernc's.
func (r *cachedRows) ColumnTypePrecisionScale(index int) (precision, scale int64, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(index)
	}
	return 0, 0, false
}
