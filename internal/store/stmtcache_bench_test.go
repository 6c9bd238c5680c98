package store

import (
	"database/sql"
	"fmt"
	"testing"

	_ "modernc.org/sqlite" // plain driver "sqlite", the baseline
)

// benchDBs opens the same kind of SQLite file twice: through the statement
// cache, and plain modernc, each with a table shaped like an ent entity.
func benchDBs(b *testing.B) map[string]*sql.DB {
	b.Helper()
	out := map[string]*sql.DB{}
	for _, name := range []string{"cached", "plain"} {
		_, dsn, _, err := resolve("", b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		var db *sql.DB
		if name == "plain" {
			db, err = sql.Open("sqlite", dsn)
		} else {
			var c *stmtCacheConnector
			c, err = newStmtCacheConnector(dsn, stmtCacheSize)
			db = sql.OpenDB(c)
		}
		if err != nil {
			b.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		b.Cleanup(func() { db.Close() })
		if _, err := db.Exec(`CREATE TABLE executions (id INTEGER PRIMARY KEY AUTOINCREMENT,
			created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL, action_ref TEXT NOT NULL,
			status TEXT NOT NULL, parameters JSON NOT NULL, result JSON NULL, context JSON NULL,
			started_at DATETIME NULL, finished_at DATETIME NULL, worker TEXT NULL)`); err != nil {
			b.Fatal(err)
		}
		for i := range 1000 {
			if _, err := db.Exec(benchInsert, fmt.Sprint("core.echo", i%10), "SUCCEEDED", `{"message":"hi"}`); err != nil {
				b.Fatal(err)
			}
		}
		out[name] = db
	}
	return out
}

// ent-style statements: quoted columns, one row by id.
const (
	benchSelect = "SELECT `executions`.`id`, `executions`.`created_at`, `executions`.`updated_at`, " +
		"`executions`.`action_ref`, `executions`.`status`, `executions`.`parameters`, `executions`.`result`, " +
		"`executions`.`context`, `executions`.`started_at`, `executions`.`finished_at`, `executions`.`worker` " +
		"FROM `executions` WHERE `executions`.`id` = ? LIMIT 2"
	benchInsert = "INSERT INTO `executions` (`created_at`, `updated_at`, `action_ref`, `status`, `parameters`) " +
		"VALUES (datetime('now'), datetime('now'), ?, ?, ?) RETURNING `id`"
)

func BenchmarkSQLiteSelectByID(b *testing.B) {
	for name, db := range benchDBs(b) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				rows, err := db.Query(benchSelect, i%1000+1)
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for rows.Next() {
					n++
				}
				if err := rows.Close(); err != nil || n != 1 {
					b.Fatal(err, n)
				}
				i++
			}
		})
	}
}

func BenchmarkSQLiteInsert(b *testing.B) {
	for name, db := range benchDBs(b) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var id int
				if err := db.QueryRow(benchInsert, "core.echo", "REQUESTED", `{}`).Scan(&id); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSQLiteVaryingLimit runs one text with a LIMIT bound to a new value
// each time, as River's fetch does.
func BenchmarkSQLiteVaryingLimit(b *testing.B) {
	for name, db := range benchDBs(b) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				rows, err := db.Query("SELECT `id` FROM `executions` WHERE `status` = ? ORDER BY `id` LIMIT ?", "SUCCEEDED", i%7+1)
				if err != nil {
					b.Fatal(err)
				}
				for rows.Next() {
				}
				if err := rows.Close(); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
