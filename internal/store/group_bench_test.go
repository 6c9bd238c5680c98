package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/attune-io/attune/internal/store"
)

// BenchmarkSQLiteConcurrentInTx runs small write transactions (three
// inserts, as a request inserts an execution, its job and its audit
// record) from 8 goroutines, with SQLite's group commit and with one
// database transaction each.
func BenchmarkSQLiteConcurrentInTx(b *testing.B) {
	for _, grouped := range []bool{false, true} {
		b.Run(fmt.Sprintf("grouped=%v", grouped), func(b *testing.B) {
			db, err := store.Open(context.Background(), "", b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			db.SetGroupCommit(grouped)
			for _, t := range []string{"a", "b", "c"} {
				if _, err := db.SQL.Exec(`CREATE TABLE ` + t + ` (id INTEGER PRIMARY KEY AUTOINCREMENT, k TEXT NOT NULL, v TEXT NOT NULL)`); err != nil {
					b.Fatal(err)
				}
				if _, err := db.SQL.Exec(`CREATE INDEX ` + t + `_k ON ` + t + ` (k)`); err != nil {
					b.Fatal(err)
				}
			}
			b.SetParallelism(4) // 8 goroutines on 2 cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					err := db.InTx(ctx, func(tx *store.Tx) error {
						for _, t := range []string{"a", "b", "c"} {
							if _, err := tx.SQL.ExecContext(ctx, `INSERT INTO `+t+` (k, v) VALUES (?, ?)`, "key", `{"some":"payload of a row"}`); err != nil {
								return err
							}
						}
						return nil
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
