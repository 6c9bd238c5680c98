package queue

import (
	"testing"
	"time"

	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/store"
)

// A step drops the steps of its own workflow that wait to run now, and
// only those: another workflow's, and its own delayed one, stay.
func TestDropWaitingWorkflowSteps(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		url := dbtest.URL(t, backend)
		db, err := store.Open(ctx, url, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if err := Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		q, err := New(ctx, db, Config{DatabaseURL: url}, nil) // inserts only: nothing works the steps
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(q.Close)
		err = db.InTx(ctx, func(tx *store.Tx) error {
			for _, s := range []struct {
				id int
				at time.Time
			}{{7, time.Time{}}, {7, time.Time{}}, {7, time.Time{}}, {8, time.Time{}}, {7, time.Now().Add(time.Hour)}} {
				if err := q.InsertWorkflowTx(ctx, tx, s.id, s.at); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var dropped int64
		if err := db.InTx(ctx, func(tx *store.Tx) (err error) {
			dropped, err = q.DropWaitingWorkflowStepsTx(ctx, tx, 7)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if dropped != 3 {
			t.Fatalf("dropped %d steps, want workflow 7's 3 waiting ones", dropped)
		}
		rows, err := db.SQL.QueryContext(ctx, `SELECT state FROM river_job WHERE kind = 'workflow_step' ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var left []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			left = append(left, s)
		}
		if len(left) != 2 || left[0] != "available" || left[1] != "scheduled" {
			t.Fatalf("steps left: %v, want workflow 8's (available) and workflow 7's delayed one (scheduled)", left)
		}
	})
}
