package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/action"
	"github.com/attune-io/attune/ent/execution"
	"github.com/attune-io/attune/ent/workflowexecution"
	"github.com/attune-io/attune/internal/apperr"
	xexec "github.com/attune-io/attune/internal/execution"
	"github.com/attune-io/attune/internal/store"
)

// Rerun is a request to run a finished workflow again from some tasks.
type Rerun struct {
	// ID is the workflow execution to re-run.
	ID int
	// RequestedBy is who asks (the new run's requested_by).
	RequestedBy string
	// Parameters override the original's (merged over them).
	Parameters map[string]any
	// Tasks are the tasks to run again; the workflow's context and the
	// results of the tasks that succeeded are kept. Empty: the whole
	// workflow runs again from its start, with the original's parameters.
	Tasks []string
	// ResetTasks are with-items tasks among Tasks whose items all run
	// again; the others run again only their items that did not succeed
	// (StackStorm's --no-reset is the default for tasks not listed).
	ResetTasks []string
}

// rerunSeed is what a re-run's workflow starts from, stored on its
// WorkflowExecution row (status REQUESTED) until a worker starts it.
type rerunSeed struct {
	Of    int      `json:"of"`
	Tasks []string `json:"tasks"`
	Reset []string `json:"reset,omitempty"`
	State *state   `json:"state"`
}

// RerunTx requests a new execution of a finished workflow's action in tx,
// linked to the original, that starts from req.Tasks with the original's
// context. Its secret parameters must be given again in req.Parameters:
// the original's sealed copy went when it ended (BAD_USER_INPUT naming
// each, as execution.Service.Rerun). BAD_USER_INPUT for a task the
// workflow does not have or that never ran, CONFLICT while the original
// has not finished.
func (e *Engine) RerunTx(ctx context.Context, tx *store.Tx, req Rerun) (*ent.Execution, error) {
	orig, err := tx.Ent.Execution.Get(ctx, req.ID)
	if ent.IsNotFound(err) {
		return nil, apperr.Errorf(apperr.NotFound, "execution %d not found", req.ID)
	}
	if err != nil {
		return nil, err
	}
	if !xexec.Finished(orig.Status) {
		return nil, apperr.Errorf(apperr.Conflict, "execution %d is %s: only a finished execution can be re-run", req.ID, orig.Status)
	}
	row, err := tx.Ent.WorkflowExecution.Query().Where(workflowexecution.ExecutionID(req.ID)).Only(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading workflow %d: %w", req.ID, err)
	}
	st := &state{}
	raw, _ := json.Marshal(row.State)
	if err := json.Unmarshal(raw, st); err != nil {
		return nil, fmt.Errorf("decoding the state of workflow %d: %w", req.ID, err)
	}
	ran := map[string]bool{}
	for _, r := range st.Runs {
		ran[r.Task] = true
	}
	for _, t := range append(slices.Clone(req.Tasks), req.ResetTasks...) {
		if !ran[t] {
			return nil, apperr.Errorf(apperr.BadUserInput, "task %q did not run in workflow %d: re-run from tasks it ran", t, req.ID).
				WithDetails("fields", []map[string]string{{"field": "tasks", "message": fmt.Sprintf("%q did not run", t)}})
		}
	}
	act, err := tx.Ent.Action.Query().Where(action.Ref(orig.ActionRef)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperr.Errorf(apperr.NotFound, "action %q of execution %d no longer exists", orig.ActionRef, req.ID)
	}
	if err != nil {
		return nil, err
	}
	// Secret parameters are given again: the original's went when it ended.
	params, err := e.exec.RerunParametersTx(ctx, tx, orig, act, req.Parameters)
	if err != nil {
		return nil, err
	}
	ex, err := e.exec.RequestTx(ctx, tx, xexec.Request{Action: act.Ref, Loaded: act, Parameters: params, ParentID: orig.ParentID, RerunOf: &req.ID,
		RequestedBy: req.RequestedBy})
	if err != nil {
		return nil, err
	}
	if len(req.Tasks) == 0 {
		return ex, nil
	}
	// The seed holds no secret (a state stored before they were sealed
	// apart had them).
	seed := rerunSeed{Of: req.ID, Tasks: req.Tasks, Reset: req.ResetTasks, State: st.stored()}
	sm := map[string]any{}
	raw, _ = json.Marshal(map[string]any{"rerun": seed})
	_ = json.Unmarshal(raw, &sm)
	err = tx.Ent.WorkflowExecution.Create().SetExecutionID(ex.ID).SetLanguage(row.Language).SetFile(row.File).
		SetSource(row.Source).SetState(sm).SetStatus(workflowexecution.StatusREQUESTED).Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("storing the re-run's seed: %w", err)
	}
	return ex, nil
}

// seedOf reads the re-run seed stored for execution id, if any.
func seedOf(ctx context.Context, client *ent.Client, id int) (*ent.WorkflowExecution, *rerunSeed, error) {
	row, err := client.WorkflowExecution.Query().
		Where(workflowexecution.ExecutionID(id), workflowexecution.StatusEQ(workflowexecution.StatusREQUESTED)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var holder struct {
		Rerun *rerunSeed `json:"rerun"`
	}
	raw, _ := json.Marshal(row.State)
	if err := json.Unmarshal(raw, &holder); err != nil || holder.Rerun == nil || holder.Rerun.State == nil {
		return nil, nil, fmt.Errorf("decoding the re-run seed of execution %d: %v", id, err)
	}
	holder.Rerun.State.normalize()
	return row, holder.Rerun, nil
}

// reseed turns a re-run seed into the new workflow's state: the
// original's context, and the runs of the tasks not re-run that
// succeeded, kept as they ended (without child executions). It returns,
// for each with-items task re-run without reset, the results of its items
// that succeeded, by item.
func (w *walk) reseed(seed *rerunSeed) map[string]map[int]any {
	old := seed.State
	w.st.Vars = old.Vars
	if w.st.Vars == nil {
		w.st.Vars = map[string]any{}
	}
	w.st.RerunOf = seed.Of
	w.st.Secrets = append(w.st.Secrets, old.Secrets...)
	slices.Sort(w.st.Secrets)
	w.st.Secrets = slices.Compact(w.st.Secrets)
	again := map[string]bool{}
	for _, t := range seed.Tasks {
		again[t] = true
	}
	keep := map[string]map[int]any{}
	for _, r := range old.Runs {
		if again[r.Task] {
			if r.HasItems && !slices.Contains(seed.Reset, r.Task) {
				if res, ok := r.Result.([]any); ok {
					m := keep[r.Task]
					if m == nil {
						m = map[int]any{}
						keep[r.Task] = m
					}
					for i, v := range res {
						if i < len(r.ItemOK) && r.ItemOK[i] {
							m[i] = v
						}
					}
				}
			}
			continue
		}
		if r.Status != execution.StatusSUCCEEDED {
			continue
		}
		c := *r
		c.ID = len(w.st.Runs) + 1
		c.Execution, c.Active, c.Items = 0, 0, nil
		w.st.Runs = append(w.st.Runs, &c)
	}
	return keep
}

// Rerun is RerunTx in a transaction of its own.
func (e *Engine) Rerun(ctx context.Context, req Rerun) (*ent.Execution, error) {
	var ex *ent.Execution
	err := e.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		ex, err = e.RerunTx(ctx, tx, req)
		return err
	})
	return ex, err
}
