package queue

import (
	"context"
	"fmt"

	"github.com/riverqueue/river"

	"github.com/attune-io/attune/internal/store"
)

// TriggersArgs is the job that emits the execution triggers (StackStorm's
// actiontrigger and notifytrigger) of executions that ended: inserted in
// the transaction that records the end, so they are emitted even when no
// node heard the announcement. It runs on the events queue.
type TriggersArgs struct {
	ExecutionIDs []int `json:"execution_ids"`
}

// Kind names the job kind in River's table.
func (TriggersArgs) Kind() string { return "execution_triggers" }

// InsertOpts puts the job on the events queue.
func (TriggersArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueEvents} }

// InsertTriggersTx enqueues the triggers of executions ended in tx.
func (q *Queue) InsertTriggersTx(ctx context.Context, tx *store.Tx, executionIDs ...int) error {
	if err := q.insertTx(ctx, tx, TriggersArgs{ExecutionIDs: executionIDs}); err != nil {
		return fmt.Errorf("enqueueing the triggers of executions %v: %w", executionIDs, err)
	}
	q.wakeAfter(tx, QueueEvents)
	return nil
}

type triggersWorker struct {
	river.WorkerDefaults[TriggersArgs]
	h *Handlers
}

func (w *triggersWorker) Work(ctx context.Context, job *river.Job[TriggersArgs]) error {
	if w.h.Triggers == nil {
		return fmt.Errorf("no execution trigger handler on this node yet")
	}
	return w.h.Triggers(ctx, job.Args.ExecutionIDs)
}
