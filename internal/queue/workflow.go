package queue

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect"
	"github.com/riverqueue/river"

	"github.com/attune-io/attune/internal/store"
)

// QueueWorkflows is the River queue workflow steps run on, apart from
// executions, so a node busy with long actions still advances workflows.
const QueueWorkflows = "workflows"

// WorkflowArgs is the job that advances one workflow: it takes in the
// children that ended, starts what comes next, and finishes the workflow
// when nothing is left. It carries only the workflow's execution id; the
// step is idempotent (a redelivered or duplicate job finds nothing new).
type WorkflowArgs struct {
	ExecutionID int `json:"execution_id"`
}

// Kind names the job kind in River's table.
func (WorkflowArgs) Kind() string { return "workflow_step" }

// InsertOpts puts workflow steps on their own queue.
func (WorkflowArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueWorkflows} }

// InsertWorkflowTx enqueues a step of the workflow of execution id in tx,
// to run at once or, with a non-zero at, not before at (a task's delay).
func (q *Queue) InsertWorkflowTx(ctx context.Context, tx *store.Tx, executionID int, at time.Time) error {
	params := river.InsertManyParams{Args: WorkflowArgs{ExecutionID: executionID}}
	if !at.IsZero() {
		params.InsertOpts = &river.InsertOpts{Queue: QueueWorkflows, ScheduledAt: at}
	}
	n, err := q.client.InsertManyFastTx(ctx, tx.SQL, []river.InsertManyParams{params})
	if err == nil && n != 1 {
		err = fmt.Errorf("%d jobs inserted, want 1", n)
	}
	if err != nil {
		return fmt.Errorf("enqueueing a step of workflow %d: %w", executionID, err)
	}
	if at.IsZero() {
		q.wakeAfter(tx, QueueWorkflows)
	}
	return nil
}

// DropWaitingWorkflowStepsTx deletes, in tx, the steps of the workflow of
// execution id that wait to be worked (available, not running, not
// scheduled for a delay) and returns how many. The step calling it, which
// holds its workflow's lock, takes in everything they were inserted for:
// their transactions committed before it reads. Without this, every
// child's end leaves a step that takes the lock in turn and finds nothing,
// and a with-items of 1,000 children queues 1,000 steps that the queue
// works one after another, ahead of other workflows' steps. A transaction
// not yet committed keeps its step, which runs after this one.
func (q *Queue) DropWaitingWorkflowStepsTx(ctx context.Context, tx *store.Tx, executionID int) (int64, error) {
	query := `DELETE FROM river_job WHERE state = 'available' AND queue = $1 AND kind = $2 AND args @> $3::jsonb`
	arg := any(fmt.Sprintf(`{"execution_id": %d}`, executionID))
	if q.dialect != dialect.Postgres {
		query = `DELETE FROM river_job WHERE state = 'available' AND queue = ?1 AND kind = ?2 AND json_extract(args, '$.execution_id') = ?3`
		arg = executionID
	}
	res, err := tx.SQL.ExecContext(ctx, query, QueueWorkflows, WorkflowArgs{}.Kind(), arg)
	if err != nil {
		return 0, fmt.Errorf("dropping the waiting steps of workflow %d: %w", executionID, err)
	}
	return res.RowsAffected()
}

func addWorkflowWorkers(workers *river.Workers, rc *river.Config, cfg Config, h *Handlers) {
	n := cfg.EventConcurrency
	if n <= 0 {
		n = cfg.Concurrency
	}
	river.AddWorker(workers, &workflowWorker{h: h})
	river.AddWorker(workers, &inquiryTimeoutWorker{h: h})
	rc.Queues[QueueWorkflows] = river.QueueConfig{MaxWorkers: n, FetchCooldown: eventFetchCooldown}
}

type workflowWorker struct {
	river.WorkerDefaults[WorkflowArgs]
	h *Handlers
}

func (w *workflowWorker) Work(ctx context.Context, job *river.Job[WorkflowArgs]) error {
	if w.h.Workflow == nil {
		return fmt.Errorf("no workflow engine on this node")
	}
	return w.h.Workflow(ctx, job.Args.ExecutionID)
}
