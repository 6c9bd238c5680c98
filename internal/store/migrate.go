package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"

	"github.com/attune-io/attune/migrations"
)

// migrationsTable records applied versions.
const migrationsTable = "attune_schema_migrations"

// migrateLockKey serialises migrations among PostgreSQL nodes starting at once.
const migrateLockKey = 7_346_201_993

// Migrate applies the pending versioned migrations of db's dialect, each in
// its own transaction. The directory's atlas.sum is checked first, so an
// edited migration file is refused rather than half-applied.
func (db *DB) Migrate(ctx context.Context) error {
	files, err := migrationFiles(db.Dialect)
	if err != nil {
		return err
	}
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	if db.Dialect == dialect.Postgres {
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrateLockKey); err != nil {
			return fmt.Errorf("migrate: taking lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLockKey) //nolint:errcheck // released with the session anyway
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+migrationsTable+
		` (version TEXT PRIMARY KEY, applied_at TIMESTAMP NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: creating %s: %w", migrationsTable, err)
	}
	applied, err := appliedVersions(ctx, conn)
	if err != nil {
		return err
	}
	for _, f := range files {
		if applied[f.version] {
			continue
		}
		if err := apply(ctx, conn, db.Dialect, f); err != nil {
			return err
		}
	}
	return nil
}

// Pending lists the migration versions not yet applied; /readyz uses it.
func (db *DB) Pending(ctx context.Context) ([]string, error) {
	files, err := migrationFiles(db.Dialect)
	if err != nil {
		return nil, err
	}
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	applied, err := appliedVersions(ctx, conn)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range files {
		if !applied[f.version] {
			out = append(out, f.version)
		}
	}
	return out, nil
}

type migrationFile struct {
	version string
	name    string
	sql     string
}

func migrationFiles(d string) ([]migrationFile, error) {
	dir := d
	if d == dialect.SQLite {
		dir = "sqlite"
	}
	sub, err := fs.Sub(migrations.FS, dir)
	if err != nil {
		return nil, fmt.Errorf("migrations for %s: %w", d, err)
	}
	if err := checkSum(sub); err != nil {
		return nil, fmt.Errorf("migrations for %s: %w", d, err)
	}
	entries, err := fs.ReadDir(sub, ".")
	if err != nil {
		return nil, err
	}
	var files []migrationFile
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		b, err := fs.ReadFile(sub, e.Name())
		if err != nil {
			return nil, err
		}
		version, _, _ := strings.Cut(e.Name(), "_")
		files = append(files, migrationFile{version: version, name: e.Name(), sql: string(b)})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].version < files[j].version })
	return files, nil
}

// checkSum verifies atlas.sum against the files, as atlas itself would.
func checkSum(dir fs.FS) error {
	mem := &atlasmigrate.MemDir{}
	entries, err := fs.ReadDir(dir, ".")
	if err != nil {
		return err
	}
	for _, e := range entries {
		b, err := fs.ReadFile(dir, e.Name())
		if err != nil {
			return err
		}
		if err := mem.WriteFile(e.Name(), b); err != nil {
			return err
		}
	}
	if err := atlasmigrate.Validate(mem); err != nil {
		return fmt.Errorf("atlas.sum does not match the files (regenerate with make generate): %w", err)
	}
	return nil
}

func appliedVersions(ctx context.Context, conn *sql.Conn) (map[string]bool, error) {
	rows, err := conn.QueryContext(ctx, `SELECT version FROM `+migrationsTable)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") || strings.Contains(err.Error(), "does not exist") {
			return map[string]bool{}, nil
		}
		return nil, fmt.Errorf("reading applied migrations: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out[v] = true
	}
	return out, rows.Err()
}

func apply(ctx context.Context, conn *sql.Conn, d string, f migrationFile) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %s: %w", f.name, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	if _, err := tx.ExecContext(ctx, f.sql); err != nil {
		return fmt.Errorf("migration %s: %w", f.name, err)
	}
	insert := `INSERT INTO ` + migrationsTable + ` (version, applied_at) VALUES (?, ?)`
	if d == dialect.Postgres {
		insert = `INSERT INTO ` + migrationsTable + ` (version, applied_at) VALUES ($1, $2)`
	}
	if _, err := tx.ExecContext(ctx, insert, f.version, time.Now().UTC()); err != nil {
		return fmt.Errorf("migration %s: recording: %w", f.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: commit: %w", f.name, err)
	}
	return nil
}
