package engine

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/execution"
	"github.com/attune-io/attune/ent/workflowexecution"
)

// View is a workflow as a UI draws it.
type View struct {
	Status   execution.Status
	Language string
	File     string
	// Tasks lists every task run in start order: one entry per child
	// execution (a with-items task: one per item, a retried one: one per
	// attempt), and one for a run without child (a task without action,
	// one waiting for its delay, one that failed before its action).
	Tasks   []TaskView
	Context map[string]any
	Output  any
	Errors  []map[string]any
}

// TaskView is one entry of View.Tasks.
type TaskView struct {
	Name      string
	Status    execution.Status
	ItemIndex *int
	Attempt   int
	Execution *ent.Execution
}

// Read reads the workflow of execution id through client (so the
// reader's access rules apply), or nil when id is not a workflow.
func Read(ctx context.Context, client *ent.Client, id int) (*View, error) {
	row, err := client.WorkflowExecution.Query().Where(workflowexecution.ExecutionID(id)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ex, err := client.Execution.Query().Where(execution.ID(id)).Select(execution.FieldStatus).Only(ctx)
	if err != nil {
		return nil, err
	}
	st := &state{}
	raw, _ := json.Marshal(row.State)
	if err := json.Unmarshal(raw, st); err != nil {
		return nil, fmt.Errorf("decoding the state of workflow %d: %w", id, err)
	}
	kids, err := client.Execution.Query().Where(execution.ParentID(id)).Order(ent.Asc(execution.FieldID)).All(ctx)
	if err != nil {
		return nil, err
	}
	byRun := map[int][]*ent.Execution{}
	for _, k := range kids {
		byRun[k.TaskRun] = append(byRun[k.TaskRun], k)
	}
	for _, name := range st.Secrets {
		if _, ok := st.Vars[name]; ok {
			st.Vars[name] = "********"
		}
	}
	v := &View{Status: ex.Status, Language: row.Language, File: row.File, Context: st.Vars, Output: st.Output, Errors: st.Errors}
	if v.Errors == nil {
		v.Errors = []map[string]any{}
	}
	for _, r := range st.Runs {
		ks := byRun[r.ID]
		if len(ks) == 0 {
			v.Tasks = append(v.Tasks, TaskView{Name: r.Task, Status: r.Status, Attempt: r.Attempt})
			continue
		}
		attempt := map[int]int{}
		for _, k := range ks {
			item := -1
			if k.TaskItem != nil {
				item = *k.TaskItem
			}
			v.Tasks = append(v.Tasks, TaskView{Name: r.Task, Status: k.Status, ItemIndex: k.TaskItem, Attempt: attempt[item], Execution: k})
			attempt[item]++
		}
		if r.Status == execution.StatusSCHEDULED && r.Attempt > 0 {
			// A retry waiting for its delay.
			v.Tasks = append(v.Tasks, TaskView{Name: r.Task, Status: r.Status, Attempt: r.Attempt})
		}
	}
	if v.Tasks == nil {
		v.Tasks = []TaskView{}
	}
	return v, nil
}
