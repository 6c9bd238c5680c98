package execution

import (
	"context"
	"fmt"
	"time"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/execution"
	"github.com/attune-io/attune/ent/executionsecret"
	"github.com/attune-io/attune/ent/workflowexecution"
	"github.com/attune-io/attune/internal/notify"
	"github.com/attune-io/attune/internal/store"
)

// Workflows runs the actions that are workflows (internal/workflow/engine
// implements it). The execution package calls it where an execution's
// life meets its workflow's: a worker claimed a workflow action, a child
// ended, a workflow is canceled.
type Workflows interface {
	// Handles reports whether act runs as a workflow.
	Handles(act *ent.Action) bool
	// Start begins the workflow of execution e, which worker claimed
	// (RUNNING): in one transaction its state is stored, its first tasks
	// requested and e detached from the worker, so it outlives the worker.
	// An error fails e with that cause (a preparation failure).
	Start(ctx context.Context, e *ent.Execution, act *ent.Action, secrets map[string]any, worker string) error
	// WakeTx asks, inside tx, for the workflow of execution id to take a
	// step: a child of it ended, or it was asked to cancel.
	WakeTx(ctx context.Context, tx *store.Tx, id int) error
}

// childEndedTx wakes the workflow of parentID, if any, in tx: the child
// that just ended is taken in by the workflow's next step, which commits
// with the child's end or not at all.
func (s *Service) childEndedTx(ctx context.Context, tx *store.Tx, parentID *int) error {
	if parentID == nil || s.opts.Workflows == nil {
		return nil
	}
	return s.opts.Workflows.WakeTx(ctx, tx, *parentID)
}

// isWorkflowTx reports whether execution id runs a workflow.
func isWorkflowTx(ctx context.Context, tx *store.Tx, id int) (bool, error) {
	return tx.Ent.WorkflowExecution.Query().Where(workflowexecution.ExecutionID(id)).Exist(ctx)
}

// CancelTx is Cancel's one compare-and-set inside the caller's
// transaction, for the workflow engine canceling a workflow's children:
// one not started ends CANCELED, a running one becomes CANCELING (its
// worker kills it), a workflow becomes CANCELING and takes a step. It
// reports false when there was nothing to cancel (already finished) or the
// status changed under it.
func (s *Service) CancelTx(ctx context.Context, tx *store.Tx, e *ent.Execution) (bool, error) {
	switch e.Status {
	case Requested, Scheduled, Delayed:
		ok, err := transition(ctx, tx, s.bus, e.ID, Canceled, func(u *ent.ExecutionUpdate) {
			u.SetFinishedAt(s.now()).SetError("canceled before it started")
		})
		if !ok || err != nil {
			return false, err
		}
		if _, err := tx.Ent.ExecutionSecret.Delete().Where(executionsecret.ExecutionID(e.ID)).Exec(ctx); err != nil {
			return false, err
		}
		tx.AfterCommit(func() { s.finished(e, Canceled) })
		return true, s.childEndedTx(ctx, tx, e.ParentID)
	case Pending:
		if s.opts.Inquiries == nil {
			return false, nil
		}
		return s.opts.Inquiries.CancelTx(ctx, tx, e)
	case Running, Pausing, Paused:
		wf, err := isWorkflowTx(ctx, tx, e.ID)
		if err != nil {
			return false, err
		}
		ok, err := transition(ctx, tx, s.bus, e.ID, Canceling, nil)
		if !ok || err != nil {
			return false, err
		}
		if wf && s.opts.Workflows != nil {
			return true, s.opts.Workflows.WakeTx(ctx, tx, e.ID)
		}
		return true, s.bus.PublishTx(ctx, tx.SQL, notify.Event{Kind: notify.Cancel, ID: e.ID})
	}
	return false, nil
}

// SetStatusTx moves execution id to status `to` inside tx, for the
// workflow engine (pause, resume, a workflow's end), following the status
// machine, with set applied to the same UPDATE. A final status wakes the
// parent workflow, if any. It reports false when the status did not allow
// it.
func (s *Service) SetStatusTx(ctx context.Context, tx *store.Tx, id int, to execution.Status, set func(*ent.ExecutionUpdate)) (bool, error) {
	ok, err := transition(ctx, tx, s.bus, id, to, func(u *ent.ExecutionUpdate) {
		if Finished(to) {
			u.SetFinishedAt(s.now())
		}
		if set != nil {
			set(u)
		}
	})
	if !ok || err != nil {
		return ok, err
	}
	if Finished(to) {
		parent, err := tx.Ent.Execution.Query().Where(execution.ID(id)).
			Select(execution.FieldParentID, execution.FieldActionRef, execution.FieldPackRef).Only(ctx)
		if err != nil {
			return false, fmt.Errorf("reading the parent of execution %d: %w", id, err)
		}
		tx.AfterCommit(func() { s.finished(parent, to) })
		return true, s.childEndedTx(ctx, tx, parent.ParentID)
	}
	return true, nil
}

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now() }
