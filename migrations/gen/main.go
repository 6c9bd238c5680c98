// Command gen writes versioned SQL migrations for each dialect from the ent
// schema: it replays migrations/<dialect> into an empty dev database, diffs
// it against ent/schema and writes only what changed. Run via `make generate`.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"
	_ "github.com/lib/pq"
	_ "modernc.org/sqlite"

	"github.com/attune-io/attune/ent/migrate"
)

func main() {
	name := flag.String("name", "changes", "name of a new migration file")
	pgURL := flag.String("postgres", envOr("TEST_DATABASE_URL",
		"postgres://postgres@127.0.0.1:5432/test?sslmode=disable"),
		"PostgreSQL server used for a throwaway dev database")
	flag.Parse()
	ctx := context.Background()
	if err := sqlite(ctx, *name); err != nil {
		log.Fatalf("sqlite migrations: %v", err)
	}
	if err := postgres(ctx, *pgURL, *name); err != nil {
		log.Fatalf("postgres migrations: %v", err)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func options(dir, d string) ([]schema.MigrateOption, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ld, err := atlasmigrate.NewLocalDir(dir)
	if err != nil {
		return nil, err
	}
	return []schema.MigrateOption{
		schema.WithDir(ld),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDialect(d),
		schema.WithFormatter(atlasmigrate.DefaultFormatter),
		schema.WithDropColumn(true),
		schema.WithDropIndex(true),
	}, nil
}

func sqlite(ctx context.Context, name string) error {
	opts, err := options(filepath.Join("migrations", "sqlite"), dialect.SQLite)
	if err != nil {
		return err
	}
	db, err := sql.Open("sqlite", "file:migdev?mode=memory&_pragma=foreign_keys(1)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	return migrate.NewSchema(entsql.OpenDB(dialect.SQLite, db)).NamedDiff(ctx, name, opts...)
}

func postgres(ctx context.Context, serverURL, name string) error {
	opts, err := options(filepath.Join("migrations", "postgres"), dialect.Postgres)
	if err != nil {
		return err
	}
	admin, err := sql.Open("postgres", serverURL)
	if err != nil {
		return err
	}
	defer admin.Close()
	dev := fmt.Sprintf("attune_migdev_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+dev); err != nil {
		return fmt.Errorf("creating dev database (is PostgreSQL at %s reachable?): %w", redact(serverURL), err)
	}
	defer admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+dev+" WITH (FORCE)") //nolint:errcheck // best effort
	u, err := url.Parse(serverURL)
	if err != nil {
		return err
	}
	u.Path = "/" + dev
	q := u.Query()
	q.Set("search_path", "public")
	u.RawQuery = q.Encode()
	return migrate.NamedDiff(ctx, u.String(), name, opts...)
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<url>"
	}
	return strings.Replace(u.Redacted(), u.RawQuery, "", 1)
}
