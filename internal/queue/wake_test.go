package queue

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"

	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/store"
)

// gateFixture is a migrated SQLite database, a gate whose fetches never
// time out (so a returning fetch proves a wake), River's executor through
// it and an inserting Queue that wakes it.
func gateFixture(t *testing.T) (*store.DB, *wakeGate, riverdriver.Executor, *Queue) {
	t.Helper()
	db := dbtest.Open(t, "sqlite")
	if err := Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	g := newWakeGate()
	g.hold = time.Hour
	drv := newSQLiteDriver(db.SQL, g)
	client, err := river.NewClient(drv, &river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return db, g, drv.GetExecutor(), &Queue{gate: g, client: client}
}

func fetchParams(n int) *riverdriver.JobGetAvailableParams {
	return &riverdriver.JobGetAvailableParams{ClientID: "test", MaxAttemptedBy: 100, MaxToLock: n, Queue: river.QueueDefault}
}

func TestGateHoldsAnIdleFetchWithoutTheDatabase(t *testing.T) {
	g := newWakeGate()
	g.hold = 0
	g.queue(river.QueueDefault).lastFetch = time.Now()
	// A nil executor panics if the gate touches the database.
	res, err := g.JobGetAvailable(t.Context(), nil, nil, fetchParams(10))
	if err != nil || len(res.Jobs) != 0 {
		t.Fatalf("held fetch = %v, %v; want empty", res, err)
	}
}

func TestGateWakesAHeldFetchOnCommit(t *testing.T) {
	db, g, exec, q := gateFixture(t)
	g.queue(river.QueueDefault).lastFetch = time.Now() // not due: only a wake releases it

	got := make(chan *riverdriver.JobGetAvailableResult, 1)
	go func() {
		res, err := g.JobGetAvailable(context.Background(), exec, nil, fetchParams(10))
		if err != nil {
			t.Error(err)
		}
		got <- res
	}()
	// The insert's transaction rolls back first: no wake.
	_ = db.InTx(t.Context(), func(tx *store.Tx) error {
		if err := q.InsertExecutionTx(t.Context(), tx, 1); err != nil {
			t.Fatal(err)
		}
		return context.Canceled
	})
	if err := db.InTx(t.Context(), func(tx *store.Tx) error { return q.InsertExecutionTx(t.Context(), tx, 2) }); err != nil {
		t.Fatal(err)
	}
	res := <-got
	if len(res.Jobs) != 1 {
		t.Fatalf("woken fetch locked %d jobs, want the committed one", len(res.Jobs))
	}
}

func TestGateFetchesAgainAfterAFullFetch(t *testing.T) {
	db, g, exec, q := gateFixture(t)
	if err := db.InTx(t.Context(), func(tx *store.Tx) error {
		for id := range 3 {
			if err := q.InsertExecutionTx(t.Context(), tx, id); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	first, err := g.JobGetAvailable(t.Context(), exec, nil, fetchParams(2))
	if err != nil || len(first.Jobs) != 2 {
		t.Fatalf("first fetch = %d jobs, %v; want 2", len(first.Jobs), err)
	}
	// Nothing new was announced, but the full fetch may have left jobs.
	second, err := g.JobGetAvailable(t.Context(), exec, nil, fetchParams(2))
	if err != nil || len(second.Jobs) != 1 {
		t.Fatalf("second fetch = %d jobs, %v; want the one left", len(second.Jobs), err)
	}
}

func TestGateHoldsAgainAfterARestart(t *testing.T) {
	g := newWakeGate()
	g.hold = time.Hour
	g.close() // River stopping: held fetches return at once
	g.queue(river.QueueDefault).lastFetch = time.Now()
	res, err := g.JobGetAvailable(t.Context(), nil, nil, fetchParams(1))
	if err != nil || len(res.Jobs) != 0 {
		t.Fatalf("fetch while stopping = %v, %v; want empty", res, err)
	}
	g.open() // started again: fetches are held once more
	select {
	case <-g.stopped:
		t.Fatal("the gate still releases every fetch after River started again")
	default:
	}
}
