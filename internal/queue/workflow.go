package queue

import (
	"context"
	"fmt"
	"time"

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

func addWorkflowWorkers(workers *river.Workers, rc *river.Config, cfg Config, h *Handlers) {
	n := cfg.EventConcurrency
	if n <= 0 {
		n = cfg.Concurrency
	}
	river.AddWorker(workers, &workflowWorker{h: h})
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
