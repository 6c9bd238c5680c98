// Package dbtest gives tests isolated, migrated databases: a fresh SQLite
// file, and a fresh schema on the PostgreSQL at TEST_DATABASE_URL. It is for
// tests only and not a stable API.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/attune-io/attune/internal/store"
)

// DefaultPostgresURL is used when TEST_DATABASE_URL is unset.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Backends are the storage kinds every storage test runs on.
var Backends = []string{"sqlite", "postgres"}

// PostgresURL is the server tests use.
func PostgresURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

var (
	pgOnce      sync.Once
	pgReachable error
)

// RequirePostgres skips the test, loudly, when PostgreSQL cannot be reached,
// and fails it instead when CI=true.
func RequirePostgres(tb testing.TB) {
	tb.Helper()
	pgOnce.Do(func() {
		db, err := sql.Open("postgres", PostgresURL())
		if err == nil {
			err = db.Ping()
			db.Close()
		}
		pgReachable = err
	})
	if pgReachable != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("PostgreSQL at %s is not reachable and CI=true: %v", PostgresURL(), pgReachable)
		}
		tb.Skipf("SKIPPING POSTGRESQL TEST: PostgreSQL at %s is not reachable (%v); set TEST_DATABASE_URL", PostgresURL(), pgReachable)
	}
}

// URL returns a database URL for a fresh, empty database of the given
// backend, removed when the test ends: a SQLite file in a temp dir, or a new
// PostgreSQL schema selected through search_path.
func URL(tb testing.TB, backend string) string {
	tb.Helper()
	switch backend {
	case "sqlite":
		return filepath.Join(tb.TempDir(), "attune.db")
	case "postgres":
		RequirePostgres(tb)
		schema := "t_" + randomHex(8)
		admin, err := sql.Open("postgres", PostgresURL())
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
			admin.Close()
			tb.Fatalf("creating schema: %v", err)
		}
		tb.Cleanup(func() {
			defer admin.Close()
			if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
				tb.Logf("dropping schema %s: %v", schema, err)
			}
		})
		u, err := url.Parse(PostgresURL())
		if err != nil {
			tb.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	default:
		tb.Fatalf("unknown backend %q", backend)
		return ""
	}
}

// Open returns a migrated database of the given backend, closed when the
// test ends.
func Open(tb testing.TB, backend string) *store.DB {
	tb.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, URL(tb, backend), "")
	if err != nil {
		tb.Fatalf("opening %s: %v", backend, err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		tb.Fatalf("migrating %s: %v", backend, err)
	}
	return db
}

// Run runs f as a parallel subtest on every backend.
func Run(t *testing.T, f func(t *testing.T, backend string)) {
	t.Helper()
	for _, b := range Backends {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			f(t, b)
		})
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
