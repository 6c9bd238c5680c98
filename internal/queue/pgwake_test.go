package queue

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/store"
)

func TestPostgresJobsAreAnnouncedAfterTheirCommit(t *testing.T) {
	url := dbtest.URL(t, "postgres")
	ctx := t.Context()
	db, err := store.Open(ctx, url, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	q, err := New(ctx, db, Config{DatabaseURL: url}, nil) // an API node's queue
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q.Close)

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	var schema string
	if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{schema + "." + insertTopic}.Sanitize()); err != nil {
		t.Fatal(err)
	}

	// Rolled back: never announced.
	_ = db.InTx(ctx, func(tx *store.Tx) error {
		if err := q.InsertEvaluationTx(ctx, tx, 1); err != nil {
			t.Fatal(err)
		}
		return context.Canceled
	})
	if err := db.InTx(ctx, func(tx *store.Tx) error { return q.InsertExecutionTx(ctx, tx, 2) }); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	n, err := conn.WaitForNotification(wctx)
	if err != nil {
		t.Fatalf("no announcement of the committed job: %v", err)
	}
	if n.Payload != `{"queue": "default"}` {
		t.Fatalf("first announcement = %s, want the committed job's queue only", n.Payload)
	}
}
